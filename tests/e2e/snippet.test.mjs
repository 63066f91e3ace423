// End to end: the script-tag snippet in a real Chromium against real collectors, under faults.
// Each test asserts on what the collector received and that the page saw no error; each is
// bounded in time. Run: node --test tests/e2e/ (after npm run build and a release collector).

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { e2eSuite, snippetPage, stubScript, waitFor, eventsOf, ready } from "./harness.mjs";

const ADA_HASH = "b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const NO_AUTO = 'data-auto-pageview="false"';

const e2e = e2eSuite();

/** A page with the snippet and no automatic page view; `action` runs in it once ready. */
async function openTracking(cur, name, action) {
  const opened = await cur.open(name, snippetPage({ endpoint: e2e.api.url, attrs: NO_AUTO }));
  await ready(opened.page);
  if (action) await opened.page.evaluate(action);
  return opened;
}

/** The first `n` POSTs to /collect/batch, waiting at most `ms`. */
const batches = (n, ms, what) =>
  waitFor(async () => {
    const b = await e2e.api.batches();
    return b.length >= n && b;
  }, ms, what);

/** The stored events once there are at least `n`, waiting at most `ms`. */
const storedEvents = (n, ms, what) =>
  waitFor(async () => {
    const e = await e2e.api.events();
    return e.length >= n && e;
  }, ms, what);

test("script tag: page view first, replayed calls, identify, conversion, batching, every wire field, no raw email", { timeout: 60_000 }, () =>
  e2e.scenario(async (cur) => {
    const { site, api } = e2e;
    const html = snippetPage({
      endpoint: api.url,
      calls: `
  scantrack('identify', {email: '  Ada@Example.COM '});
  scantrack('track', 'early', {contact: 'write to ada@example.com'});`,
    });
    const { page, problems } = await cur.open("thanks.html", html, "?email=ada%40example.com");
    await ready(page);
    await page.evaluate(() => {
      scantrack("track", "purchase", { sku: "A-1", qty: 2 }, { amount: 19.98, currency: "EUR" });
      for (let i = 0; i < 30; i++) scantrack("track", "item", { i });
      scantrack("flush");
    });
    const sent = await waitFor(async () => {
      const b = await api.batches();
      return eventsOf(b).length >= 33 && b;
    }, 20_000, "33 events at the collector");
    const events = eventsOf(sent);
    assert.equal(events.length, 33);
    assert.ok(sent.length <= 3, `${sent.length} requests for 33 events`);
    assert.deepEqual(events.slice(0, 3).map((e) => e.event_name), ["page_view", "early", "purchase"]);
    const session = events[0].scan_session_id;
    for (const e of events) {
      assert.match(e.event_id, UUID);
      assert.equal(e.scan_session_id, session);
      assert.match(e.timestamp, ISO_MS);
      assert.ok(e.url.startsWith(site.url + "/demo/thanks.html?email="), e.url);
    }
    assert.equal(new Set(events.map((e) => e.event_id)).size, 33);
    assert.equal(events[0].properties.title, "e2e page");
    assert.equal(events[0].user_identifiers, undefined, "the automatic page view precedes identify");
    assert.equal(events[1].user_identifiers.email_hash, ADA_HASH);
    assert.equal(events[2].user_identifiers.email_hash, ADA_HASH);
    assert.deepEqual(events[2].conversion_value, { amount: 19.98, currency: "EUR" });
    assert.deepEqual(events[2].properties, { sku: "A-1", qty: 2 });
    for (const b of sent) {
      assert.equal(b.status, 200);
      assert.equal(b.origin, site.url, "cross-origin request");
      assert.match(b.content_type, /^text\/plain/);
      const body = JSON.parse(b.body);
      assert.equal(body.site_id, cur.siteId);
      assert.match(body.sent_at, ISO_MS);
      assert.ok(!/ada@example\.com|ada%40example\.com/i.test(b.body), "raw email in " + b.body.slice(0, 200));
    }
    assert.deepEqual(problems, { pageErrors: [], consoleErrors: [] });
  }));

test("429 with Retry-After in seconds: nothing sent before it, nothing lost", { timeout: 60_000 }, () =>
  e2e.scenario(async (cur) => {
    const { api } = e2e;
    await api.faults({ responses: [{ status: 429, retry_after: 2 }] });
    const { page, problems } = await openTracking(cur, "p.html");
    await page.evaluate(() => { scantrack("track", "a"); scantrack("flush"); });
    const sent = await batches(2, 15_000, "the retry");
    assert.equal(sent[0].status, 429);
    const gap = sent[1].received_at - sent[0].received_at;
    assert.ok(gap >= 2000, `retried after ${gap} ms`);
    assert.deepEqual(eventsOf(sent).map((e) => e.event_name), ["a"]);
    assert.deepEqual(problems, { pageErrors: [], consoleErrors: [] });
  }));

test("429 with Retry-After as an HTTP date, then with only X-RateLimit-Reset", { timeout: 60_000 }, () =>
  e2e.scenario(async (cur) => {
    const { api } = e2e;
    const dateTarget = Math.ceil((Date.now() + 2500) / 1000) * 1000;
    const resetTarget = dateTarget + 2000;
    await api.faults({
      responses: [
        { status: 429, retry_after: new Date(dateTarget).toUTCString() },
        { status: 429, headers: { "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": String(resetTarget / 1000) } },
      ],
    });
    const { page, problems } = await openTracking(cur, "p.html");
    await page.evaluate(() => { scantrack("track", "a"); scantrack("flush"); });
    const sent = await batches(3, 20_000, "two retries");
    assert.ok(sent[1].received_at >= dateTarget, `${sent[1].received_at} < ${dateTarget}`);
    assert.ok(sent[2].received_at >= resetTarget, `${sent[2].received_at} < ${resetTarget}`);
    assert.equal(sent[2].status, 200);
    assert.deepEqual(problems, { pageErrors: [], consoleErrors: [] });
  }));

test("reload while the collector fails, then recovery: nothing lost, nothing doubled", { timeout: 90_000 }, () =>
  e2e.scenario(async (cur) => {
    const { api } = e2e;
    await api.faults({ responses: [{ status: 503, times: 1000 }] });
    const html = snippetPage({ endpoint: api.url, attrs: 'data-auto-pageview="false"' });
    const { page, problems } = await cur.open("r.html", html);
    await ready(page);
    await page.evaluate(() => { for (let i = 0; i < 20; i++) scantrack("track", "r" + i); scantrack("flush"); });
    await waitFor(async () => (await api.batches()).some((b) => b.status === 503), 10_000, "a failing attempt");
    await page.reload();
    await ready(page);
    await api.clearFaults();
    await page.evaluate(() => scantrack("flush"));
    const stored = await storedEvents(20, 40_000, "20 stored events");
    const names = stored.map((e) => e.event_name).sort();
    assert.deepEqual(names, Array.from({ length: 20 }, (_, i) => "r" + i).sort());
    assert.deepEqual(problems.pageErrors, []);
  }));

test("tab closed right after tracking: the event arrives by keepalive", { timeout: 60_000 }, () =>
  e2e.scenario(async (cur) => {
    const { api } = e2e;
    const { page } = await openTracking(cur, "bye.html");
    await page.evaluate(() => scantrack("track", "bye", { late: true }));
    await page.close({ runBeforeUnload: true });
    const events = await storedEvents(1, 15_000, "the event sent on pagehide");
    assert.equal(events[0].event_name, "bye");
  }));

// 3.3: on pagehide queued events leave with keepalive; a page on another origin loads next, so
// nothing of ours runs afterwards and the event cannot come from a later page load.
test("navigation away right after tracking: the event arrives by keepalive", { timeout: 60_000 }, () =>
  e2e.scenario(async (cur) => {
    const { api } = e2e;
    const { page } = await openTracking(cur, "away.html");
    await page.evaluate(() => scantrack("track", "leaving", { to: "elsewhere" }));
    await page.goto(api.url + "/api/stats");
    const events = await storedEvents(1, 15_000, "the event sent on pagehide");
    assert.deepEqual(events.map((e) => e.event_name), ["leaving"]);
  }));

test("hostile page: bad arguments, overridden fetch/JSON/Array, throwing storage: no page error, events flow", { timeout: 60_000 }, () =>
  e2e.scenario(async (cur) => {
    const { api } = e2e;
    const { page, problems } = await openTracking(cur, "h.html");
    const result = await page.evaluate(async () => {
      const errors = [];
      scantrack("on", "error", (e) => errors.push(e.kind + ": " + e.message));
      const circular = {}; circular.self = circular;
      const getter = {}; Object.defineProperty(getter, "boom", { enumerable: true, get() { throw new Error("getter"); } });
      const thrown = [];
      const attempt = (...args) => { try { scantrack(...args); } catch (e) { thrown.push(String(e)); } };
      attempt("track", null);
      attempt("track", 42);
      attempt("track", "c", circular);
      attempt("track", "b", { n: 10n });
      attempt("track", "g", getter);
      attempt("track", "x".repeat(200));
      attempt("track", "big", { s: "x".repeat(1 << 20) });
      attempt("identify", "not-an-object");
      attempt("consent", "maybe");
      attempt("nonsense");
      attempt();
      attempt("on", "error", "not a function");
      // The page now breaks the globals the tracker could depend on.
      const saved = { fetch: window.fetch, stringify: JSON.stringify, push: Array.prototype.push, slice: Array.prototype.slice, setItem: Storage.prototype.setItem };
      window.fetch = () => { throw new Error("fetch is broken"); };
      JSON.stringify = () => { throw new Error("stringify is broken"); };
      Array.prototype.push = function () { throw new Error("push is broken"); };
      Array.prototype.slice = function () { throw new Error("slice is broken"); };
      Storage.prototype.setItem = function () { throw new Error("QuotaExceededError"); };
      attempt("track", "survivor", { ok: true });
      attempt("flush");
      window.fetch = saved.fetch; JSON.stringify = saved.stringify; Array.prototype.push = saved.push;
      Array.prototype.slice = saved.slice; Storage.prototype.setItem = saved.setItem;
      await new Promise((r) => setTimeout(r, 100)); // listeners run from a microtask
      return { thrown, errors };
    });
    assert.deepEqual(result.thrown, [], "scantrack(...) threw");
    assert.ok(result.errors.length >= 10, "errors reported: " + JSON.stringify(result.errors, null, 1));
    const events = await waitFor(async () => {
      const e = await api.events();
      return e.some((x) => x.event_name === "survivor") && e;
    }, 15_000, "the survivor event");
    assert.ok(events.every((e) => ["survivor"].includes(e.event_name)), JSON.stringify(events.map((e) => e.event_name)));
    assert.deepEqual(problems.pageErrors, []);
  }));

function sha256(text) {
  return "'sha256-" + createHash("sha256").update(text).digest("base64") + "'";
}

test("strict CSP (script-src 'self' 'wasm-unsafe-eval' + the stub's hash) works", { timeout: 60_000 }, () =>
  e2e.scenario(async (cur) => {
    const { api } = e2e;
    const stub = stubScript("");
    const csp = `script-src 'self' 'wasm-unsafe-eval' ${sha256(stub)}; connect-src 'self' ${api.url}`;
    const { page, problems } = await cur.open("csp.html", snippetPage({ endpoint: api.url, csp }));
    await ready(page);
    await page.evaluate(() => { scantrack("track", "under_csp"); scantrack("flush"); });
    const events = await storedEvents(2, 15_000, "events under CSP");
    assert.deepEqual(events.map((e) => e.event_name).sort(), ["page_view", "under_csp"]);
    assert.deepEqual(problems, { pageErrors: [], consoleErrors: [] });
  }));

test("CSP without 'wasm-unsafe-eval': one clear console error, no page error, a harmless stub", { timeout: 60_000 }, () =>
  e2e.scenario(async (cur) => {
    const { api } = e2e;
    const stub = stubScript("");
    const csp = `script-src 'self' ${sha256(stub)}; connect-src 'self' ${api.url}`;
    const { page, problems } = await cur.open("nocsp.html", snippetPage({ endpoint: api.url, csp }));
    await waitFor(async () => problems.consoleErrors.some((m) => m.includes("scantrack")), 10_000, "the console error");
    const threw = await page.evaluate(() => {
      try { for (let i = 0; i < 5000; i++) scantrack("track", "x" + i); return false; } catch { return true; }
    });
    assert.equal(threw, false);
    await page.waitForTimeout(500);
    const ours = problems.consoleErrors.filter((m) => m.includes("scantrack"));
    assert.equal(ours.length, 1, JSON.stringify(problems.consoleErrors));
    assert.match(ours[0], /WebAssembly/);
    assert.deepEqual(problems.pageErrors, []);
    assert.equal((await api.batches()).length, 0);
  }));
