// The script-tag loader, bundled with the wasm-bindgen glue into `dist/scantrack.js` (a classic
// script, IIFE). It takes over `window.scantrack` from the page's stub snippet, loads
// `scantrack_bg.wasm` from next to itself, creates the tracker from the tag's `data-*`
// attributes, replays the calls queued before it loaded, and from then on runs each call at once.
//
// Invariants:
// - Everything the loader needs from the page (its own <script> element, attributes, `fetch`)
//   is read synchronously at the start: `document.currentScript` is null once this script's
//   first task is over, and a page may replace globals later.
// - `window.scantrack` is always a function that never throws, whatever happens: while the
//   module loads it queues calls (at most MAX_PENDING_CALLS), afterwards it runs them, and if the
//   module cannot load it stays a harmless capped stub after exactly one console error.
// - The glue's module-level code (TextDecoder etc.) runs before this file's: the bundle is
//   wrapped in a try/catch (scripts/build-dist.mjs) that turns a throw there into one console
//   error.
// - The glue is the script tag's cut (scripts/build-dist.mjs, distGlue): it has no loading
//   code of its own; this file fetches and instantiates the wasm with its imports.

import { createHub, createRunner, optionsJson, toArray, log, messageOf } from "./core.js";
import { st_api } from "./host.js";
import { __wbg_get_imports, __wbg_finish } from "../pkg/scantrack.js";

/** Calls kept while the module loads (and by the stub if it never does); beyond: dropped. */
const MAX_PENDING_CALLS = 1000;
/** The wasm file, resolved against this script's own URL. */
const WASM_FILE = "scantrack_bg.wasm";
/**
 * sha384 of the wasm, filled in by the build. Used only when this script's own tag has an
 * `integrity` attribute: the page asked for SRI, and then the wasm is covered too (a swapped wasm
 * could otherwise read storage and send it anywhere). Without it a 404 keeps its clear message.
 */
const WASM_INTEGRITY = __SCANTRACK_WASM_INTEGRITY__;
const PREFIX = "scantrack";
const NOT_TRACKED = "; events on this page are not tracked";

const TEXT = 0;
const BOOL = 1;
const WHOLE = 2;
/** `data-*` attribute → option. The first seven are the contract's; the rest mirror npm options. */
const ATTRIBUTES = [
  ["site-id", "siteId", TEXT],
  ["endpoint", "endpoint", TEXT],
  ["auto-pageview", "autoPageview", BOOL],
  ["consent", "consent", TEXT],
  ["debug", "debug", BOOL],
  ["flush-interval-ms", "flushIntervalMs", WHOLE],
  ["max-batch-events", "maxBatchEvents", WHOLE],
  ["max-batch-bytes", "maxBatchBytes", WHOLE],
  ["max-requests-per-minute", "maxRequestsPerMinute", WHOLE],
  ["request-timeout-ms", "requestTimeoutMs", WHOLE],
  ["max-queue-bytes", "maxQueueBytes", WHOLE],
  ["persist-delay-ms", "persistDelayMs", WHOLE],
  ["session-timeout-ms", "sessionTimeoutMs", WHOLE],
  ["pii-policy", "piiPolicy", TEXT],
  ["email-normalization", "emailNormalization", TEXT],
  ["honor-global-privacy-control", "honorGlobalPrivacyControl", BOOL],
];

try {
  start();
} catch (e) {
  // Only reachable through a browser too old for the code above; stay silent but harmless.
  log("error", "scantrack: could not start (" + messageOf(e) + ")" + NOT_TRACKED);
}

function start() {
  const win = window;
  const previous = win.scantrack;
  if (typeof previous === "function" && previous.__scantrack) {
    log("warn", "scantrack: dist/scantrack.js is included twice; the second copy does nothing");
    return;
  }

  const hub = createHub(false);
  const pending = [];
  const readyCallbacks = [];
  let state = "loading"; // -> "live" | "failed"
  let api = null;
  let tid = 0;
  let run = null;
  let overflowReported = false;

  function scantrack() {
    return entry(arguments);
  }
  Object.defineProperty(scantrack, "__scantrack", { value: true });
  // Code that pushes to `q` directly, as the stub snippet does, keeps working.
  scantrack.q = {
    push: function (args) {
      entry(args);
      return 0;
    },
  };

  function entry(args) {
    try {
      const command = args[0];
      if (command === "on") return hub.on(args[1], args[2], PREFIX);
      if (command === "ready") {
        const callback = args[1];
        if (typeof callback !== "function") {
          hub.error("invalid_call", "scantrack('ready', callback): callback must be a function, not " + typeof callback);
        } else if (state === "live") {
          callReady(callback);
        } else if (state === "loading") {
          readyCallbacks[readyCallbacks.length] = callback;
        }
        return undefined;
      }
      // An extension of the calling convention: the visit's scan_session_id once loaded.
      if (command === "sessionId") return api ? api.session(tid) : undefined;
      if (state === "live") return run(command, args, 1);
      if (pending.length < MAX_PENDING_CALLS) {
        pending[pending.length] = toArray(args);
      } else if (!overflowReported && state === "loading") {
        overflowReported = true;
        hub.error("queue_full", "scantrack: more than " + MAX_PENDING_CALLS + " calls before the module loaded; later ones were dropped");
      }
    } catch (e) {
      hub.error("internal", "scantrack(...): " + messageOf(e));
    }
    return undefined;
  }

  function callReady(callback) {
    try {
      callback();
    } catch (e) {
      log("error", "scantrack: a 'ready' callback threw: " + messageOf(e));
    }
  }

  function fail(kind, message) {
    state = "failed";
    readyCallbacks.length = 0;
    log("error", "scantrack: " + message + NOT_TRACKED);
    hub.error(kind, "scantrack: " + message + NOT_TRACKED);
  }

  // Take over from the stub first, so that nothing queued from now on is lost, then absorb the
  // stub's queue ('on' and 'ready' take effect now, the rest waits for the module).
  win.scantrack = scantrack;
  const stubQueue = previous && previous.q;
  if (stubQueue && typeof stubQueue === "object") {
    const n = stubQueue.length >>> 0;
    for (let i = 0; i < n; i++) {
      try {
        entry(stubQueue[i]);
      } catch (_) {
        // entry never throws; a hostile queue entry is skipped.
      }
    }
  }

  const doc = document;
  const script = doc.currentScript || doc.querySelector("script[data-site-id]");
  if (!script) {
    fail("config", "cannot find its own <script> tag (load dist/scantrack.js with a plain <script src> tag)");
    return;
  }
  const options = {};
  for (let i = 0; i < ATTRIBUTES.length; i++) {
    const spec = ATTRIBUTES[i];
    const raw = script.getAttribute("data-" + spec[0]);
    if (raw === null) continue;
    const text = raw.trim();
    let value = text;
    if (spec[2] === BOOL) {
      value = text === "" || text === "true" ? true : text === "false" ? false : null;
    } else if (spec[2] === WHOLE) {
      value = /^[0-9]+$/.test(text) ? +text : null;
    }
    if (value === null) {
      const expected = spec[2] === BOOL ? '"true" or "false"' : "a whole number";
      fail("config", 'data-' + spec[0] + '="' + raw + '" must be ' + expected);
      return;
    }
    options[spec[1]] = value;
  }
  if (!options.siteId || !options.endpoint) {
    fail("config", 'the script tag needs data-site-id and data-endpoint (e.g. data-site-id="site_demo" data-endpoint="https://collect.example.com")');
    return;
  }
  hub.debug = options.debug === true;

  let wasmUrl = WASM_FILE;
  let wasmResponse;
  try {
    wasmUrl = new URL(WASM_FILE, script.src).href;
    // Started now, with the page's `fetch` as it was when this script ran. The bytes, not the
    // stream, are compiled: no dependency on the server's Content-Type for .wasm.
    wasmResponse = fetch(wasmUrl, script.integrity ? { integrity: WASM_INTEGRITY } : {});
  } catch (e) {
    wasmResponse = Promise.reject(e);
  }

  let exports;
  wasmResponse
    .then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status + " " + r.statusText);
      return r.arrayBuffer();
    })
    .then(function (bytes) {
      return WebAssembly.instantiate(bytes, __wbg_get_imports());
    })
    .then(function (m) {
      exports = __wbg_finish(m.instance);
    })
    .then(
      function () {
        const json = optionsJson(options, hub, PREFIX);
        if (json === null) return fail("config", "its options could not be serialised");
        try {
          api = st_api();
          tid = api.start(exports, json, hub.fromWasm);
        } catch (e) {
          api = null;
          return fail("config", messageOf(e).replace(/^scantrack: /, ""));
        }
        run = createRunner(api, tid, hub);
        state = "live";
        // The contract's order: the automatic page_view (tracked by the constructor) first,
        // then the queued calls in the order they were made, then the ready callbacks.
        for (let i = 0; i < pending.length; i++) {
          const call = pending[i];
          pending[i] = undefined;
          try {
            run(call[0], call, 1);
          } catch (_) {
            // run never throws.
          }
        }
        pending.length = 0;
        for (let i = 0; i < readyCallbacks.length; i++) callReady(readyCallbacks[i]);
        readyCallbacks.length = 0;
      },
      function (e) {
        let reason = messageOf(e);
        if (/^Failed to fetch|NetworkError|Load failed/.test(reason)) {
          reason += ": network error, CORS, or (with SRI) a wasm from another build";
        }
        if (/unsafe-eval|Content.Security.Policy|CSP/i.test(reason)) {
          reason += "; the page's Content-Security-Policy must allow 'wasm-unsafe-eval' in script-src";
        }
        fail("load", "could not load its WebAssembly module (" + wasmUrl + ": " + reason + ")");
      },
    )
    .catch(function (e) {
      log("error", "scantrack: " + messageOf(e));
    });
}
