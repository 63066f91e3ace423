// Benchmark (not a test): the cost of one `scantrack('track', name, properties)` call in
// headless Chromium, against `JSON.stringify` of the same properties (the target: within 2x).
// Two figures: the call itself (what the page's code waits for), and the whole cost per event
// including the tracker's own task that takes the recorded calls into the queue right after
// (measured up to a zero-delay timer set after the loop, minus the same timer's delay alone).
// Usage: node scripts/bench-track.mjs   (needs dist/ and target/collector/scantrack-collector)
import { startCollector, launchBrowser, snippetPage, openPage } from "../tests/e2e/harness.mjs";

// A warm-up round (JIT, first allocations; not counted), then 5 rounds of 600: the 3,600 events
// stay under the queue's 1 MiB, so no event is evicted (an eviction is a report to JavaScript
// and would be measured as part of the event's cost); the bench checks that none was. Medians
// and minimums are printed: garbage collections land in some rounds and not others, so on a
// shared machine single rounds vary by 2-4x. BENCH_ROUNDS=1 prints every round.
const N = 600;
const WARMUP = 1;
const ROUNDS = 5 + WARMUP;
const site = await startCollector();
const api = await startCollector();
const browser = await launchBrowser();
try {
  const { page } = await openPage(browser.context, site, "bench.html",
    snippetPage({ endpoint: api.url, siteId: "site_bench", attrs: 'data-auto-pageview="false" data-flush-interval-ms="3600000"' }));
  await page.evaluate(() => new Promise((r) => window.scantrack("ready", r)));
  await page.evaluate(() => {
    window.__dropped = 0;
    window.scantrack("on", "dropped", () => window.__dropped++);
  });
  const results = await page.evaluate(async ({ N, ROUNDS }) => {
    const props = { plan: "pro", sku: "A-1", qty: 2, price: 19.98, tags: ["new", "promo"], nested: { campaign: "qr-2026", step: 3 } };
    const out = [];
    for (let r = 0; r < ROUNDS; r++) {
      let sink = 0;
      let t0 = performance.now();
      for (let i = 0; i < N; i++) sink += JSON.stringify(props).length;
      const stringify = (performance.now() - t0) / N;
      const tick = () => new Promise((res) => setTimeout(res, 0));
      t0 = performance.now();
      await tick();
      const idle = performance.now() - t0;
      t0 = performance.now();
      for (let i = 0; i < N; i++) scantrack("track", "bench", props);
      const track = (performance.now() - t0) / N;
      await tick();
      const whole = (performance.now() - t0 - idle) / N;
      out.push({ stringify, track, whole, sink });
      await new Promise((res) => setTimeout(res, 200)); // let the timer send the batches
    }
    return out;
  }, { N, ROUNDS });
  if (process.env.BENCH_ROUNDS) for (const r of results) console.log(`round: stringify ${(r.stringify * 1000).toFixed(2)} µs, track ${(r.track * 1000).toFixed(2)} µs, whole ${(r.whole * 1000).toFixed(2)} µs`);
  const dropped = await page.evaluate(() => window.__dropped);
  if (dropped) console.log(`warning: ${dropped} events were dropped during the bench; its figures include their reports`);
  const counted = results.slice(WARMUP);
  const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const s = median(counted.map((r) => r.stringify));
  const t = median(counted.map((r) => r.track));
  const w = median(counted.map((r) => r.whole));
  const min = (k) => Math.min(...counted.map((r) => r[k]));
  console.log(`JSON.stringify(properties): ${(s * 1000).toFixed(2)} µs per call (median of ${ROUNDS - WARMUP} rounds of ${N}; min ${(min("stringify") * 1000).toFixed(2)})`);
  console.log(`scantrack('track', ...):    ${(t * 1000).toFixed(2)} µs per call (min ${(min("track") * 1000).toFixed(2)})`);
  console.log(`ratio: ${(t / s).toFixed(1)}x (target: 2x)`);
  console.log(`whole cost per event, with the tracker's task after the calls: ${(w * 1000).toFixed(2)} µs (${(w / s).toFixed(1)}x; min ${(min("whole") * 1000).toFixed(2)})`);
} finally {
  await browser.close();
  await site.stop();
  await api.stop();
}
