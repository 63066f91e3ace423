// End-to-end harness: real collectors (scantrack-collector, started here on 127.0.0.1 with free
// ports) and a real headless Chromium (Debian's, driven by playwright-core).
//
// Two collectors give two origins: `site` serves the test page and dist/ (the page's origin),
// `api` is the endpoint the snippet posts to (another origin, so CORS is part of every test).
// Every wait is bounded; a failing test leaves a screenshot and both request logs in
// test-results/.

import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { before, after, beforeEach, afterEach } from "node:test";
import { chromium } from "playwright-core";

const ROOT = resolve(import.meta.dirname, "../..");
const COLLECTOR = join(ROOT, "target/collector/scantrack-collector");
export const RESULTS = join(ROOT, "test-results");

/**
 * Starts a collector; resolves once it printed the address it bound. Its `/demo/` serves a
 * fresh directory (`pagesDir`) where tests write their pages, and `/dist/` the build.
 */
export async function startCollector(extraArgs = []) {
  const pagesDir = mkdtempSync(join(tmpdir(), "scantrack-pages-"));
  const child = spawn(
    COLLECTOR,
    ["--listen", "127.0.0.1:0", "--db", ":memory:", "--www", pagesDir, "--dist", join(ROOT, "dist"), ...extraArgs],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error("collector did not start in 10 s: " + stderr)), 10_000);
    lines.on("line", (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    child.on("exit", (code) => fail(new Error(`collector exited (${code}): ${stderr}`)));
  });
  const admin = async (path, init) => {
    const r = await fetch(url + path, init);
    const text = await r.text();
    if (!r.ok) throw new Error(`${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  return {
    url,
    pagesDir,
    /** Every API request received, oldest first. */
    requests: async () => (await admin("/__admin/requests?since=0")).requests,
    /** POSTs to /collect/batch only. */
    batches: async () => (await admin("/__admin/requests?since=0&path=/collect/batch")).requests.filter((r) => r.method === "POST"),
    faults: (plan) => admin("/__admin/faults", { method: "POST", body: JSON.stringify(plan) }),
    clearFaults: () => admin("/__admin/faults", { method: "DELETE" }),
    events: async (query = "") => (await admin("/api/events?limit=10000" + query)).events,
    stop: () => new Promise((ok) => {
      rmSync(pagesDir, { recursive: true, force: true });
      if (child.exitCode !== null) return ok();
      child.on("exit", ok);
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 3000).unref();
    }),
  };
}

/** Launches Chromium with a fresh profile. */
export async function launchBrowser() {
  const userDataDir = mkdtempSync(join(tmpdir(), "scantrack-e2e-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** The contract's snippet (section 6.1) in a page, plus `body` HTML. */
/** The stub of the contract's snippet, exactly; `calls` are queued right after it. */
export function stubScript(calls = "") {
  return `
  window.scantrack = window.scantrack || function () {
    (window.scantrack.q = window.scantrack.q || []).push(arguments);
  };${calls}
`;
}

let siteCounter = 0;
let defaultSiteId = "site_e2e_0";
/**
 * A new site id for the next pages: pages of one origin share localStorage, and events a test
 * left stored (by design: kept until acknowledged) would otherwise be re-sent into the next one.
 */
export function nextSiteId() {
  defaultSiteId = `site_e2e_${++siteCounter}`;
  return defaultSiteId;
}

export function snippetPage({ endpoint, siteId = defaultSiteId, attrs = "", csp = "", body = "", calls = "" }) {
  const meta = csp ? `<meta http-equiv="Content-Security-Policy" content="${csp}">` : "";
  return `<!doctype html><html><head><meta charset="utf-8"><title>e2e page</title>${meta}
<script>${stubScript(calls)}</script>
<script async src="/dist/scantrack.js" data-site-id="${siteId}" data-endpoint="${endpoint}" ${attrs}></script>
</head><body>${body}</body></html>`;
}

/**
 * Serves `html` as `/demo/<name>` from the site collector (a real server on loopback: a page
 * made up by the browser's router would count as a public address and Chromium's Local Network
 * Access rules would then block its requests to loopback), opens it with `query`, and collects
 * page errors and console errors.
 */
export async function openPage(context, site, name, html, query = "", { initScript } = {}) {
  // `html` null: the page is already in pagesDir (e.g. a built app copied there).
  if (html !== null) writeFileSync(join(site.pagesDir, name), html);
  const page = await context.newPage();
  // Runs before any script of the page (e.g. to fake a browser signal such as GPC).
  if (initScript) await page.addInitScript(initScript);
  const problems = { pageErrors: [], consoleErrors: [] };
  page.on("pageerror", (e) => problems.pageErrors.push(String(e)));
  // "Failed to load resource" lines are Chromium's own network log (a 429 or 503 the test
  // scripted, the favicon's 404), not errors of the page's scripts.
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.consoleErrors.push(m.text());
  });
  await page.goto(`${site.url}/demo/${name}${query}`);
  return { page, problems };
}

/** Polls `fn` until it returns a truthy value, at most `ms`. */
export async function waitFor(fn, ms = 15_000, what = "condition") {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${JSON.stringify(last)?.slice(0, 300)})`);
}

/** Events of all batches, in arrival order. */
export function eventsOf(batches) {
  return batches.filter((b) => b.status === 200).flatMap((b) => JSON.parse(b.body).events);
}

/** Saves a screenshot and the collectors' request logs for a failed test. */
export async function saveEvidence(name, page, collectors) {
  mkdirSync(RESULTS, { recursive: true });
  const safe = name.replace(/[^a-z0-9]+/gi, "_");
  if (page) await page.screenshot({ path: join(RESULTS, safe + ".png") }).catch(() => {});
  for (const [label, c] of Object.entries(collectors)) {
    const log = await c.requests().catch((e) => String(e));
    writeFileSync(join(RESULTS, `${safe}.${label}.requests.json`), JSON.stringify(log, null, 2));
  }
}

/** Resolves once the script tag's module is initialised (`scantrack('ready', ...)`). */
export async function ready(page, ms = 15_000) {
  await page.evaluate((ms) => new Promise((ok, fail) => {
    setTimeout(() => fail(new Error(`scantrack was not ready within ${ms} ms`)), ms);
    window.scantrack("ready", ok);
  }), ms);
}

/** Resolves after `ms`: for tests that check that nothing happens during a time. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The shared set-up of a test file: registers node:test hooks that start the two collectors
 * (`site` serves pages and dist/, `api` is the endpoint) and one Chromium for the file, reset
 * the api collector (plan, log, rate limits, stored events) before each test, and keep a
 * screenshot and both request logs of a failed test in test-results/.
 *
 * Use: `const e2e = e2eSuite();` at the top of a file, then
 * `test(name, { timeout }, () => e2e.scenario(async (cur) => { const { page, problems } = await cur.open(...); ... }))`.
 * `cur.siteId` is a fresh site id (pages of one origin share localStorage); `cur.open` serves
 * and opens a page and records it as the one to screenshot.
 */
export function e2eSuite() {
  const e2e = { site: null, api: null, browser: null, current: null };
  before(async () => {
    [e2e.site, e2e.api] = await Promise.all([startCollector(), startCollector()]);
    e2e.browser = await launchBrowser();
  });
  after(async () => {
    await e2e.browser?.close();
    await Promise.all([e2e.site?.stop(), e2e.api?.stop()]);
  });
  beforeEach(async () => {
    e2e.current = null;
    const r = await fetch(e2e.api.url + "/__admin/reset?store=true", { method: "POST" });
    if (!r.ok) throw new Error("reset of the api collector: " + r.status);
  });
  afterEach(async (t) => {
    // Marked by scenario(): still true when the body threw or the test timed out.
    if (e2e.current?.failed) await saveEvidence(t.name, e2e.current.page, { site: e2e.site, api: e2e.api });
    await e2e.current?.page?.close().catch(() => {});
  });
  /** Runs `body(cur)` with evidence kept on failure. */
  e2e.scenario = async (body) => {
    const cur = { failed: true, siteId: nextSiteId(), page: null };
    cur.open = async (name, html, query = "", options = {}) => {
      const opened = await openPage(e2e.browser.context, e2e.site, name, html, query, options);
      cur.page = opened.page;
      return opened;
    };
    e2e.current = cur;
    await body(cur);
    cur.failed = false;
  };
  return e2e;
}

/** Listens in the page to `on` reports of the given types; read them back with `reports(page)`. */
export async function listen(page, types = ["error", "delivered", "dropped"]) {
  await page.evaluate((types) => {
    window.__reports = [];
    for (const type of types) window.scantrack("on", type, (r) => window.__reports.push(r));
  }, types);
}

export const reports = (page, type) =>
  page.evaluate((type) => (window.__reports || []).filter((r) => !type || r.type === type), type);

/** scantrack's localStorage keys of `siteId` in the page, with their values. */
export const storageOf = (page, siteId) =>
  page.evaluate((prefix) => {
    const out = {};
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k.startsWith(prefix)) out[k] = localStorage.getItem(k);
    }
    return out;
  }, `scantrack:${siteId}:`);
