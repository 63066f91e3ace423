// End to end: the contract's delivery rules (section 3.1) under scripted collector faults:
// server errors and an unreachable collector, 413 and 422. Each test asserts on what the api
// collector received and on the page's reports, and that the page saw no error; each is bounded.

import { test } from "node:test";
import assert from "node:assert/strict";
import { e2eSuite, snippetPage, waitFor, eventsOf, ready, listen, reports, sleep, storageOf } from "./harness.mjs";

const e2e = e2eSuite();
const NO_PROBLEMS = { pageErrors: [], consoleErrors: [] };
/** No automatic page view, and no timer-driven send: the test decides when to flush. */
const MANUAL = 'data-auto-pageview="false" data-flush-interval-ms="600000"';

const idsOf = (request) => JSON.parse(request.body).events.map((e) => e.event_id);

/**
 * Contract 3.3: an event "leaves storage only when acknowledged by a 2xx or dropped for a reason
 * that is reported": once all are settled, the stored queue holds none of `ids` (bounded wait:
 * the queue is rewritten within persistDelayMs).
 */
async function assertQueueFreeOf(page, siteId, ids) {
  const key = `scantrack:${siteId}:queue`;
  await waitFor(async () => {
    const queue = (await storageOf(page, siteId))[key] ?? "";
    return ids.every((id) => !queue.includes(id));
  }, 5_000, "settled events to leave " + key);
}

// Contract 3.1: "500, 502, 503, 504, 408, network error, timeout: retry with exponential
// backoff; keep every event". Backoff: "1 s, 2 s, 4 s, ... doubling, each delay jittered to
// between half and all of its value. A success resets it."
test("3.1 server errors and a collector down for a while: retried with growing backoff, nothing lost, a success resets the backoff", { timeout: 45_000 }, () =>
  e2e.scenario(async (cur) => {
    const { api } = e2e;
    // A 5xx burst, then the collector unreachable (connections closed without an answer).
    // `Connection: close` on the last answer before the outage: Chromium silently re-sends a
    // request whose reused keep-alive connection closes without an answer, which would put a
    // second request of the same attempt into the log; on a fresh connection it does not.
    await api.faults({
      responses: [{ status: 503 }, { status: 502, headers: { Connection: "close" } }, { drop: true, times: 2 }],
    });
    const { page, problems } = await cur.open("down.html", snippetPage({ endpoint: api.url, attrs: MANUAL }));
    await ready(page);
    await listen(page);
    const ids = await page.evaluate(() => {
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push(scantrack("track", "outage_" + i, { i }));
      scantrack("flush");
      return ids;
    });
    // Keep every event: during the outage (after persistDelayMs) they are all in storage.
    await waitFor(async () => (await api.batches()).length >= 2, 10_000, "two failed attempts");
    const queue = await waitFor(async () => {
      const q = (await storageOf(page, cur.siteId))[`scantrack:${cur.siteId}:queue`] ?? "";
      return ids.every((id) => q.includes(id)) && q;
    }, 5_000, "the events in the stored queue during the outage");
    assert.ok(queue);
    const batches = await waitFor(async () => {
      const b = await api.batches();
      return b.some((r) => r.status === 200) && b;
    }, 30_000, "delivery after the outage");
    assert.deepEqual(batches.map((b) => b.status), [503, 502, null, null, 200]);
    // Every attempt carried the same events (same ids: the collector's idempotency key).
    for (const b of batches) assert.deepEqual(idsOf(b), ids);
    // Gaps after the 1st, 2nd, 3rd, 4th failure: nominal 1, 2, 4, 8 s, jittered to [half, all].
    const gaps = batches.slice(1).map((b, i) => b.received_at - batches[i].received_at);
    [1000, 2000, 4000, 8000].forEach((nominal, i) => {
      assert.ok(gaps[i] >= nominal / 2, `attempt ${i + 2} came ${gaps[i]} ms after a failure, before half of ${nominal} ms (gaps ${gaps})`);
      // Upper bound with slack for a loaded machine: the delay must not be the next step's.
      assert.ok(gaps[i] <= nominal + 1500, `attempt ${i + 2} came ${gaps[i]} ms after a failure, nominal ${nominal} ms (gaps ${gaps})`);
    });
    const stored = await api.events();
    assert.deepEqual(stored.map((e) => e.event_id).sort(), [...ids].sort());
    assert.deepEqual(JSON.parse(batches[4].response_body), { accepted: 5, duplicates: 0 });

    // After the success, one more failure waits the first step again (0.5..1 s), not 16 s.
    await api.faults({ responses: [{ status: 503 }] });
    const late = await page.evaluate(() => { const id = scantrack("track", "after_recovery"); scantrack("flush"); return id; });
    const more = await waitFor(async () => {
      const b = await api.batches();
      return b.length >= 7 && b;
    }, 10_000, "the retry after a fresh failure");
    assert.deepEqual(more.slice(5).map((b) => b.status), [503, 200]);
    assert.deepEqual(idsOf(more[6]), [late]);
    const gap = more[6].received_at - more[5].received_at;
    assert.ok(gap >= 500 && gap <= 2500, `retry ${gap} ms after the first failure following a success`);

    const delivered = (await reports(page, "delivered")).flatMap((r) => r.event_ids);
    assert.deepEqual(delivered.sort(), [...ids, late].sort());
    assert.deepEqual(await reports(page, "dropped"), []);
    await assertQueueFreeOf(page, cur.siteId, [...ids, late]);
    assert.deepEqual(problems, NO_PROBLEMS);
  }));

// Contract 3.1: "413: split the batch in two halves and send each; a single event that still
// gets 413 is dropped and reported."
test("3.1 413: batches split in halves until they fit, everything that fits delivered, an event alone over the limit dropped as too_large", { timeout: 45_000 }, () =>
  e2e.scenario(async (cur) => {
    const { api } = e2e;
    const LIMIT = 4096;
    await api.faults({ max_body_bytes: LIMIT });
    const { page, problems } = await cur.open("big.html", snippetPage({ endpoint: api.url, attrs: MANUAL }));
    await ready(page);
    await listen(page);
    const { small, huge } = await page.evaluate(() => {
      const pad = "p".repeat(600);
      const small = [];
      for (let i = 0; i < 12; i++) small.push(scantrack("track", "small_" + i, { i, pad }));
      // Valid for the contract (properties under 10,240 bytes) but over this collector's limit.
      const huge = scantrack("track", "huge", { pad: "h".repeat(5000) });
      scantrack("flush");
      return { small, huge };
    });
    assert.equal(small.filter(Boolean).length, 12);
    assert.ok(huge, "track() returned no id for the huge event");
    await waitFor(async () => (await reports(page, "dropped")).length >= 1 && (await api.events()).length >= 12, 30_000,
      "12 events stored and one drop reported");
    await sleep(500); // nothing more should come
    const batches = await api.batches();
    const stored = await api.events();
    assert.deepEqual(stored.map((e) => e.event_id).sort(), [...small].sort(), "stored events");
    const dropped = await reports(page, "dropped");
    assert.equal(dropped.length, 1, JSON.stringify(dropped));
    assert.equal(dropped[0].event_id, huge);
    assert.equal(dropped[0].event_name, "huge");
    assert.equal(dropped[0].reason, "too_large");
    assert.equal(typeof dropped[0].message, "string");
    for (const b of batches) {
      assert.ok(b.status === 200 || b.status === 413, `status ${b.status}`);
      if (b.status === 200) assert.ok(b.body_bytes <= LIMIT, `accepted ${b.body_bytes} bytes`);
      else assert.ok(b.body_bytes > LIMIT, `413 for ${b.body_bytes} bytes`);
    }
    // The first request held all 13; every 413 was followed by its two halves.
    assert.equal(idsOf(batches[0]).length, 13);
    const hugeAttempts = batches.filter((b) => idsOf(b).includes(huge));
    assert.ok(hugeAttempts.every((b) => b.status === 413));
    assert.deepEqual(idsOf(hugeAttempts.at(-1)), [huge], "the huge event was tried alone last");
    // Split: the request after a 413 of n > 1 events holds at most half of them (rounded up)
    // and only events of that batch. (The client may then pack the other half together with
    // the rest of the queue: the contract's halves are a bound, the exact partition is free.)
    for (const b of batches.filter((r) => r.status === 413 && idsOf(r).length > 1)) {
      const ids = idsOf(b);
      const next = batches.find((r) => r.seq > b.seq);
      assert.ok(next, `nothing sent after the 413 of ${ids.length} events`);
      const nextIds = idsOf(next);
      assert.ok(nextIds.length <= Math.ceil(ids.length / 2), `after a 413 of ${ids.length} events, ${nextIds.length} were sent`);
      assert.ok(nextIds.every((id) => ids.includes(id)), "the request after a 413 holds events of another batch");
    }
    // No event accepted twice, no event of a 200 lost.
    assert.equal(eventsOf(batches).length, 12);
    assert.ok(batches.length < 30, `${batches.length} requests`);
    const delivered = (await reports(page, "delivered")).flatMap((r) => r.event_ids);
    assert.deepEqual(delivered.sort(), [...small].sort());
    await assertQueueFreeOf(page, cur.siteId, [...small, huge]);
    assert.deepEqual(problems, NO_PROBLEMS);
  }));

// Contract 3.1: "422: drop exactly the events named by loc[2] (report each with its msg) and
// send the rest again".
test("3.1 422 naming one event: exactly that event dropped and reported as invalid with the collector's msg, the rest delivered", { timeout: 30_000 }, () =>
  e2e.scenario(async (cur) => {
    const { api } = e2e;
    const { page, problems } = await cur.open("reject.html", snippetPage({ endpoint: api.url, attrs: MANUAL }));
    await ready(page);
    await listen(page);
    const ids = await page.evaluate(() => [0, 1, 2, 3, 4].map((i) => scantrack("track", "ev_" + i, { i })));
    assert.equal(ids.filter(Boolean).length, 5, "track() returns the event id after load");
    const bad = ids[2];
    await api.faults({ reject_event_ids: [bad] });
    await page.evaluate(() => scantrack("flush"));
    await waitFor(async () => (await api.events()).length >= 4 && (await reports(page, "dropped")).length >= 1, 15_000,
      "4 events stored and one drop reported");
    await sleep(500);
    const batches = await api.batches();
    assert.deepEqual(batches.map((b) => b.status), [422, 200]);
    assert.deepEqual(idsOf(batches[0]), ids);
    assert.deepEqual(JSON.parse(batches[0].response_body).detail.map((d) => d.loc), [["body", "events", 2, "event_id"]]);
    assert.deepEqual(idsOf(batches[1]), ids.filter((id) => id !== bad));
    const stored = await api.events();
    assert.deepEqual(stored.map((e) => e.event_id).sort(), ids.filter((id) => id !== bad).sort());
    const dropped = await reports(page, "dropped");
    assert.equal(dropped.length, 1, JSON.stringify(dropped));
    assert.equal(dropped[0].event_id, bad);
    assert.equal(dropped[0].event_name, "ev_2");
    assert.equal(dropped[0].reason, "invalid");
    assert.match(dropped[0].message, /rejected by fault injection/, "the collector's msg");
    await assertQueueFreeOf(page, cur.siteId, ids);
    assert.deepEqual(problems, NO_PROBLEMS);
  }));

// Contract 3.1 pacing: "a page never sends more than maxRequestsPerMinute requests (default
// 30)"; 3.2: "A batch is sent when the queue holds maxBatchEvents events (default 50)".
test("3.1/3.2 a burst of 500 events: 10 batches of 50, at most 30 requests in any 60 s, nothing lost", { timeout: 45_000 }, () =>
  e2e.scenario(async (cur) => {
    const { api } = e2e;
    const { page, problems } = await cur.open("burst.html", snippetPage({ endpoint: api.url, attrs: 'data-auto-pageview="false"' }));
    await ready(page);
    const ids = await page.evaluate(() => {
      const ids = [];
      for (let i = 0; i < 500; i++) ids.push(scantrack("track", "burst", { i }));
      return ids;
    });
    assert.equal(new Set(ids.filter(Boolean)).size, 500);
    // The ids come from the wasm in runs of 64: every one a lower-case version 4 UUID.
    const v4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    assert.deepEqual(ids.filter((id) => !v4.test(id)), []);
    await waitFor(async () => (await api.events()).length >= 500, 30_000, "500 stored events");
    await sleep(1000); // a partial batch would come after the 2 s flush interval of its first event
    const batches = await api.batches();
    assert.ok(batches.every((b) => b.status === 200), JSON.stringify(batches.map((b) => b.status)));
    assert.equal(batches.length, 10, `${batches.length} requests for 500 events`);
    assert.ok(batches.every((b) => idsOf(b).length === 50));
    const sent = batches.flatMap(idsOf);
    assert.deepEqual(sent, ids, "every event once, in order");
    for (const b of batches) {
      const inWindow = batches.filter((o) => o.received_at >= b.received_at && o.received_at < b.received_at + 60_000);
      assert.ok(inWindow.length <= 30);
    }
    const stored = await api.events();
    assert.deepEqual(stored.map((e) => e.event_id).sort(), [...ids].sort());
    assert.deepEqual(problems, NO_PROBLEMS);
  }));
