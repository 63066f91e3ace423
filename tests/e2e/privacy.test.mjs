// End to end: the contract's consent rules (section 4) through the script tag: pending, granted,
// denied, and the browser's Global Privacy Control signal. Each test asserts on what the api
// collector received (or that it received nothing), on localStorage, and that the page saw no
// error; each is bounded.

import { test } from "node:test";
import assert from "node:assert/strict";
import { e2eSuite, snippetPage, waitFor, ready, listen, reports, sleep, storageOf } from "./harness.mjs";

const e2e = e2eSuite();
const NO_PROBLEMS = { pageErrors: [], consoleErrors: [] };
/**
 * Longer than persistDelayMs (1 s) plus flushIntervalMs (2 s): by then an event the tracker
 * would store or send has been stored or sent.
 */
const QUIET_MS = 3500;

const names = (events) => events.map((e) => e.event_name).sort();

// Contract 4: "While pending, events wait in memory only (not stored, not sent)"; granting
// consent later sends them.
test("4 consent pending: nothing sent, nothing in the stored queue; granted later: everything delivered", { timeout: 30_000 }, () =>
  e2e.scenario(async (cur) => {
    const { api } = e2e;
    const { page, problems } = await cur.open("pending.html", snippetPage({ endpoint: api.url, attrs: 'data-consent="pending"' }));
    await ready(page);
    await listen(page);
    await page.evaluate(() => {
      scantrack("track", "while_pending", { secret_plan: "pro" });
      scantrack("identify", { email: "ada@example.com" });
      scantrack("flush");
    });
    await sleep(QUIET_MS);
    assert.deepEqual(await api.requests(), [], "requests while consent is pending");
    const queueKey = `scantrack:${cur.siteId}:queue`;
    const stored = await storageOf(page, cur.siteId);
    const queue = stored[queueKey] ?? "";
    assert.ok(!/while_pending|page_view|secret_plan/.test(queue), `the queue key holds pending events: ${queue.slice(0, 300)}`);
    assert.ok(!JSON.stringify(stored).includes("ada@example.com"));

    await page.evaluate(() => scantrack("consent", "granted"));
    const events = await waitFor(async () => {
      const e = await api.events();
      return e.length >= 2 && e;
    }, 10_000, "the pending events after consent");
    await sleep(300);
    assert.deepEqual(names(await api.events()), ["page_view", "while_pending"]);
    const pendingEvent = events.find((e) => e.event_name === "while_pending").event;
    assert.deepEqual(pendingEvent.properties, { secret_plan: "pro" });
    assert.equal(pendingEvent.user_identifiers, undefined, "identify came after this event");
    assert.deepEqual(await reports(page, "dropped"), []);
    assert.deepEqual(problems, NO_PROBLEMS);
  }));

// Contract 4: "denied drops them and clears scantrack's storage".
test("4 consent denied: queued and stored events dropped and reported, scantrack's storage cleared, nothing sent", { timeout: 30_000 }, () =>
  e2e.scenario(async (cur) => {
    const { api } = e2e;
    // No timer-driven send: the events sit in the stored queue until consent is denied.
    const attrs = 'data-auto-pageview="false" data-flush-interval-ms="600000"';
    const { page, problems } = await cur.open("denied.html", snippetPage({ endpoint: api.url, attrs }));
    await ready(page);
    await listen(page);
    const ids = await page.evaluate(() => ["a", "b", "c"].map((n) => scantrack("track", "before_denial_" + n)));
    assert.equal(ids.filter(Boolean).length, 3);
    const queueKey = `scantrack:${cur.siteId}:queue`;
    await waitFor(async () => ((await storageOf(page, cur.siteId))[queueKey] ?? "").includes("before_denial_c"), 5_000,
      "the events in localStorage (persistDelayMs)");

    await page.evaluate(() => scantrack("consent", "denied"));
    await waitFor(async () => (await reports(page, "dropped")).length >= 3, 5_000, "three drop reports");
    const dropped = await reports(page, "dropped");
    assert.deepEqual(dropped.map((d) => d.event_id).sort(), [...ids].sort());
    assert.ok(dropped.every((d) => d.reason === "consent_denied"), JSON.stringify(dropped));
    assert.deepEqual(await storageOf(page, cur.siteId), {}, "scantrack's keys left in localStorage");

    // Later events are not tracked or sent either, flush or not.
    await page.evaluate(() => { scantrack("track", "after_denial"); scantrack("page"); scantrack("flush"); });
    await sleep(QUIET_MS);
    assert.deepEqual(await api.requests(), [], "requests after consent was denied");
    const left = await storageOf(page, cur.siteId);
    assert.ok(!JSON.stringify(left).includes("after_denial"), "an event tracked after denial was stored");
    assert.ok(!(await storageOf(page, cur.siteId))[queueKey]?.includes("before_denial"));
    assert.deepEqual(problems, NO_PROBLEMS);
  }));

/** Chromium has no switch for GPC: the property is defined before any script of the page. */
const GPC_ON = () => Object.defineProperty(Navigator.prototype, "globalPrivacyControl", { configurable: true, get: () => true });

// Contract 4: "navigator.globalPrivacyControl === true is honoured as denied unless the site
// sets honorGlobalPrivacyControl: false".
test("4 Global Privacy Control on: honoured as denied, nothing sent or stored", { timeout: 30_000 }, () =>
  e2e.scenario(async (cur) => {
    const { api } = e2e;
    const { page, problems } = await cur.open("gpc.html", snippetPage({ endpoint: api.url }), "", { initScript: GPC_ON });
    assert.equal(await page.evaluate(() => navigator.globalPrivacyControl), true);
    await ready(page);
    await page.evaluate(() => { scantrack("track", "with_gpc"); scantrack("flush"); });
    await sleep(QUIET_MS);
    assert.deepEqual(await api.requests(), [], "requests under GPC");
    const stored = await storageOf(page, cur.siteId);
    assert.ok(!/with_gpc|page_view/.test(JSON.stringify(stored)), "events stored under GPC: " + JSON.stringify(stored).slice(0, 300));
    assert.deepEqual(problems, NO_PROBLEMS);
  }));

test("4 Global Privacy Control on with data-honor-global-privacy-control=\"false\": events sent", { timeout: 30_000 }, () =>
  e2e.scenario(async (cur) => {
    const { api } = e2e;
    const html = snippetPage({ endpoint: api.url, attrs: 'data-honor-global-privacy-control="false"' });
    const { page, problems } = await cur.open("gpc-off.html", html, "", { initScript: GPC_ON });
    assert.equal(await page.evaluate(() => navigator.globalPrivacyControl), true);
    await ready(page);
    await page.evaluate(() => { scantrack("track", "gpc_not_honoured"); scantrack("flush"); });
    await waitFor(async () => (await api.events()).length >= 2, 10_000, "two events");
    await sleep(300);
    assert.deepEqual(names(await api.events()), ["gpc_not_honoured", "page_view"]);
    assert.deepEqual(problems, NO_PROBLEMS);
  }));
