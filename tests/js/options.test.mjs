// Host tests (node:test) of js/core.js's options: names, types and choices are checked in
// JavaScript, and the wasm gets them by position (src/options.rs, `Options::from_js`, whose
// tests cover what the core owns: the site id, the endpoint URL and every range).
import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeOptions, startTracker, OPTIONS } from "../../js/core.js";

const base = { siteId: "s", endpoint: "http://x" };
const positional = (options) => JSON.parse(encodeOptions({ ...base, ...options }));
const error = (options) => {
  try {
    encodeOptions(options);
  } catch (e) {
    return e.message;
  }
  return "no error";
};

test("the table is the wasm's order (src/options.rs, OPTIONS)", () => {
  assert.deepEqual(
    OPTIONS.map(([name]) => name),
    ["autoPageview", "debug", "honorGlobalPrivacyControl", "consent", "piiPolicy", "emailNormalization", "flushIntervalMs", "maxBatchEvents",
      "maxBatchBytes", "maxRequestsPerMinute", "requestTimeoutMs", "maxQueueBytes", "persistDelayMs", "sessionTimeoutMs"],
  );
});

test("minimal options: the two required ones, every other one not given (null)", () => {
  assert.deepEqual(JSON.parse(encodeOptions({ siteId: "site_demo", endpoint: "http://127.0.0.1:8787/" })),
    ["site_demo", "http://127.0.0.1:8787/", ...OPTIONS.map(() => null)]);
  assert.deepEqual(positional({ debug: undefined, maxBatchEvents: undefined }), positional({}), "undefined is not given");
});

test("every option goes to its position: flags as booleans, choices as indexes, whole numbers as numbers", () => {
  assert.deepEqual(
    positional({
      sessionTimeoutMs: 600000, persistDelayMs: 200, maxQueueBytes: 65536, requestTimeoutMs: 5000, maxRequestsPerMinute: 12, maxBatchBytes: 30000,
      maxBatchEvents: 10, flushIntervalMs: 500, emailNormalization: "google", piiPolicy: "hash", consent: "pending", honorGlobalPrivacyControl: false,
      debug: true, autoPageview: false,
    }),
    ["s", "http://x", false, true, false, 0, 1, 1, 500, 10, 30000, 12, 5000, 65536, 200, 600000],
  );
  assert.deepEqual(positional({ consent: "denied", piiPolicy: "reject", emailNormalization: "standard", maxBatchEvents: 1e1, flushIntervalMs: 250.0 }).slice(5, 10),
    [2, 2, 0, 250, 10]);
});

test("bad options say what to change, the first problem in the order written", () => {
  for (const [options, message] of [
    [{ endpoint: "http://x" }, 'siteId is required (e.g. siteId: "site_demo")'],
    [{ siteId: "s" }, 'endpoint is required (the collector\'s base URL, e.g. "https://collect.example.com")'],
    [{ siteId: 5, endpoint: "http://x" }, "siteId must be a string, not 5"],
    [{ siteId: "s", endpoint: {} }, "endpoint must be a string, not an object"],
    [{ ...base, flushIntevalMs: 1 }, 'unknown option "flushIntevalMs"; see the README for the list'],
    [{ ...base, maxBatchEvents: 2.5 }, "maxBatchEvents must be a whole number, not 2.5"],
    [{ ...base, flushIntervalMs: -1 }, "flushIntervalMs must be a whole number, not -1"],
    [{ ...base, flushIntervalMs: Infinity }, "flushIntervalMs must be a whole number, not Infinity"],
    [{ ...base, persistDelayMs: "5" }, 'persistDelayMs must be a whole number, not "5"'],
    [{ ...base, maxQueueBytes: 10n }, "maxQueueBytes must be a whole number, not 10n"],
    [{ ...base, consent: "yes" }, 'consent must be "pending", "granted" or "denied", not "yes"'],
    [{ ...base, piiPolicy: true }, 'piiPolicy must be "redact", "hash" or "reject", not true'],
    [{ ...base, emailNormalization: "gmail" }, 'emailNormalization must be "standard" or "google", not "gmail"'],
    [{ ...base, debug: "true" }, 'debug must be true or false, not "true"'],
    [{ ...base, autoPageview: [true] }, "autoPageview must be true or false, not an array"],
    [{ ...base, honorGlobalPrivacyControl: null }, "honorGlobalPrivacyControl must be true or false, not null"],
    [{ ...base, debug: () => 1 }, "debug must be true or false, not a function"],
    [{ ...base, consent: "nope", debug: "nope" }, 'consent must be "pending", "granted" or "denied", not "nope"'],
    [{ ...base, debug: "nope", consent: "nope" }, 'debug must be true or false, not "nope"'],
    [[], "options must be an object, not an array"],
    [null, "options must be an object, not null"],
    ["s", 'options must be an object, not "s"'],
  ]) {
    assert.equal(error(options), message, message);
  }
});

test("a hostile options object: what it throws is said as such, never thrown as is", () => {
  const api = { start: () => assert.fail("the wasm must not start") };
  const hub = { fromWasm() {} };
  const getter = { ...base, get debug() { throw new RangeError("boom"); } };
  assert.throws(() => startTracker(api, null, getter, hub), { message: "options could not be read (boom)" });
  const proxy = new Proxy({}, { ownKeys() { throw "no keys"; }, get: (_, k) => base[k] });
  assert.throws(() => startTracker(api, null, proxy, hub), { message: "options could not be read (no keys)" });
  assert.throws(() => startTracker(api, null, { ...base, consent: "x" }, hub), { message: /^consent must be/ });
});

test("inherited keys are not options", () => {
  const options = Object.create({ debug: "inherited" });
  options.siteId = "s";
  options.endpoint = "http://x";
  assert.deepEqual(JSON.parse(encodeOptions(options)), ["s", "http://x", ...OPTIONS.map(() => null)]);
});
