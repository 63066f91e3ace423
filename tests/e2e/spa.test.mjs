// End to end: automatic page views on SPA navigations (contract 6.1: a `page_view` "also sent
// automatically on load and on SPA navigations unless data-auto-pageview="false""). Asserts on
// what the api collector stored and that the page saw no error; bounded.

import { test } from "node:test";
import assert from "node:assert/strict";
import { e2eSuite, snippetPage, waitFor, ready, sleep } from "./harness.mjs";

const e2e = e2eSuite();
const NO_PROBLEMS = { pageErrors: [], consoleErrors: [] };

/** Stored events oldest first (the collector lists newest first), as sent. */
async function sent(api) {
  return (await api.events()).reverse().map((s) => s.event);
}

// Contract 6.1: `page` is "a page_view event with url, referrer and the title", sent on SPA
// navigations: a History API navigation to a new URL is a new page whose referrer is the
// previous URL; a hash-only replaceState is not a navigation to a new page.
test("6.1 SPA navigation: pushState to a new path gives a page_view with the new url and the previous url as referrer; a hash-only replaceState gives none", { timeout: 30_000 }, () =>
  e2e.scenario(async (cur) => {
    const { api, site } = e2e;
    const first = `${site.url}/demo/spa.html?from=qr`;
    const { page, problems } = await cur.open("spa.html", snippetPage({ endpoint: api.url }), "?from=qr");
    await ready(page);
    await page.evaluate(() => {
      history.pushState({ step: 2 }, "", "/demo/spa/products?id=7");
      document.title = "products";
    });
    // Same document, so the replaceState below may not be taken for another page.
    await page.evaluate(() => history.replaceState({ step: 2 }, "", location.pathname + location.search + "#reviews"));
    await page.evaluate(() => { scantrack("track", "marker"); scantrack("flush"); });
    await waitFor(async () => (await sent(api)).some((e) => e.event_name === "marker"), 10_000, "the marker event");
    await sleep(500);
    const events = await sent(api);
    assert.deepEqual(events.map((e) => e.event_name), ["page_view", "page_view", "marker"],
      JSON.stringify(events.map((e) => [e.event_name, e.url])));
    const [load, nav, marker] = events;
    assert.equal(load.url, first);
    assert.equal(load.referrer, undefined, "a page opened directly has no referrer");
    assert.equal(nav.url, `${site.url}/demo/spa/products?id=7`);
    assert.equal(nav.referrer, first, "the previous url is the referrer of an SPA page view");
    assert.equal(marker.url, `${site.url}/demo/spa/products?id=7#reviews`);
    assert.ok(new Set(events.map((e) => e.scan_session_id)).size === 1, "one session across SPA navigations");
    assert.deepEqual(problems, NO_PROBLEMS);
  }));

// Contract 6.1 (and the npm option autoPageview: "on load and on SPA navigations (History API,
// popstate)"): going back is a navigation too, and its referrer is the URL left, as for
// pushState.
test("6.1 SPA navigation: history.back() (popstate) gives a page_view of the url gone back to, with the url left as referrer", { timeout: 30_000 }, () =>
  e2e.scenario(async (cur) => {
    const { api, site } = e2e;
    const start = `${site.url}/demo/spa-back.html`;
    const step2 = `${site.url}/demo/spa/step2`;
    const { page, problems } = await cur.open("spa-back.html", snippetPage({ endpoint: api.url }));
    await ready(page);
    await page.evaluate(() => history.pushState(null, "", "/demo/spa/step2"));
    await page.evaluate(() => new Promise((r) => {
      addEventListener("popstate", () => setTimeout(r, 50), { once: true });
      history.back();
      setTimeout(r, 5000); // bounded: popstate must come well before
    }));
    assert.equal(await page.evaluate(() => location.href), start);
    await page.evaluate(() => { scantrack("track", "marker"); scantrack("flush"); });
    await waitFor(async () => (await sent(api)).some((e) => e.event_name === "marker"), 10_000, "the marker event");
    await sleep(300);
    const events = await sent(api);
    const seen = events.map((e) => [e.event_name, e.url, e.referrer ?? null]);
    assert.deepEqual(seen.slice(0, 3), [
      ["page_view", start, null],
      ["page_view", step2, start],
      ["page_view", start, step2],
    ]);
    assert.deepEqual(seen.slice(3).map((e) => e[0]), ["marker"]);
    assert.deepEqual(problems, NO_PROBLEMS);
  }));
