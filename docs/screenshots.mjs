// Screenshots of `npm start` for the docs: the demo page after a few clicks, then the
// inspector with the events that arrived. Usage: node docs/screenshots.mjs [base URL]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.argv[2] || "http://127.0.0.1:8787";
const dir = mkdtempSync(join(tmpdir(), "scantrack-shots-"));
const context = await chromium.launchPersistentContext(dir, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1200, height: 900 },
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(base + "/demo/");
  await page.waitForFunction(() => document.querySelector("#status")?.textContent !== "loading...", null, { timeout: 10_000 });
  for (const id of ["#identify", "#track", "#purchase", "#burst", "#flush"]) {
    await page.click(id);
    await page.waitForTimeout(300);
  }
  await page.waitForFunction(() => Number(document.querySelector("#count-delivered")?.textContent) >= 500, null, { timeout: 60_000 });
  await page.screenshot({ path: "docs/demo.png" });
  const inspector = await context.newPage();
  await inspector.goto(base + "/");
  await inspector.waitForTimeout(1500);
  await inspector.screenshot({ path: "docs/inspector.png" });
  if (errors.length) throw new Error("page errors: " + errors.join("; "));
  console.log("wrote docs/demo.png and docs/inspector.png");
} finally {
  await context.close();
  rmSync(dir, { recursive: true, force: true });
}
