// The browser step of scripts/check-pack.sh: serves a Vite build of an app that uses the npm
// package (argument: its dist/ directory) plus a stand-in collector that accepts every batch,
// opens it in headless Chromium, and checks what the app recorded in window.__result.
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { chromium } from "playwright-core";

const root = process.argv[2];
if (!root) {
  console.error("usage: node scripts/check-pack-browser.mjs <vite dist dir>");
  process.exit(2);
}
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TIMEOUT_MS = 15_000;

const batches = [];
const server = createServer((req, res) => {
  const path = new URL(req.url, "http://x").pathname;
  if (req.method === "POST" && path === "/collect/batch") {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      let n = 0;
      try {
        n = JSON.parse(body).events.length;
      } catch {}
      batches.push(n);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ accepted: n, duplicates: 0 }));
    });
    return;
  }
  if (path === "/favicon.ico") {
    res.writeHead(204);
    res.end();
    return;
  }
  const file = join(root, normalize(path === "/" ? "/index.html" : path));
  try {
    if (!statSync(file).isFile()) throw new Error();
    res.writeHead(200, { "content-type": TYPES[extname(file)] || "application/octet-stream" });
    res.end(readFileSync(file));
  } catch {
    res.writeHead(404);
    res.end("not found");
  }
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const origin = `http://127.0.0.1:${server.address().port}`;

const profile = mkdtempSync(join(tmpdir(), "scantrack-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const problems = [];
try {
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(e.message));
  await page.goto(origin + "/");
  await page
    .waitForFunction(() => window.__result && window.__result.flushed === true, null, { timeout: TIMEOUT_MS })
    .catch(() => problems.push(`flush() did not resolve within ${TIMEOUT_MS} ms`));
  const r = await page.evaluate(() => window.__result);
  if (r.error !== null) problems.push(`init() gave an inert tracker: ${r.error}`);
  if (!UUID.test(r.eventId || "")) problems.push(`track() returned ${JSON.stringify(r.eventId)}, not an event id`);
  if (!UUID.test(r.sessionId || "")) problems.push(`sessionId() returned ${JSON.stringify(r.sessionId)}`);
  if (r.circularReturned !== undefined) problems.push("track() with circular properties returned an id");
  if (r.reportedError !== "invalid_call") problems.push("the circular properties were not reported as invalid_call");
  if (consoleErrors.length) problems.push("console errors: " + consoleErrors.join(" | "));
  console.log(`[check-pack] browser: event ${r.eventId}, session ${r.sessionId}, batches received ${JSON.stringify(batches)}`);
} finally {
  await browser.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
if (problems.length) {
  for (const p of problems) console.error("[check-pack] " + p);
  process.exit(1);
}
