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

import { createHub, startTracker, toArray, log, messageOf, ERROR, OPTIONS, FLAG, WHOLE } from "./core.js";
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
const NOT_TRACKED = "; events on this page are not tracked";

// `state`: the module is loading, running, or could not start.
const LOADING = 0;
const LIVE = 1;
const FAILED = 2;

// Anything this throws is caught by the try/catch scripts/build-dist.mjs wraps the bundle in.
start();

function start() {
  const win = window;
  const previous = win.scantrack;
  if (typeof previous === "function" && previous.__scantrack) {
    log(1, "dist/scantrack.js is included twice; the second copy does nothing");
    return;
  }

  const hub = createHub();
  const pending = [];
  const readyCallbacks = [];
  let state = LOADING;
  let run = null;
  let overflowReported = false;

  // Named parameters, not `arguments`: the common call then allocates no arguments object. No
  // command takes more than three arguments.
  function scantrack(command, a, b, c) {
    if (command === "track" && run) return run.track(a, b, c);
    return entry([command, a, b, c]);
  }
  scantrack.__scantrack = 1;
  // Code that pushes to `q` directly, as the stub snippet does, keeps working.
  scantrack.q = {
    push(args) {
      entry(args);
      return 0;
    },
  };

  function entry(args) {
    try {
      const command = args[0];
      if (command === "on") return hub.on(args[1], args[2]);
      if (command === "ready") {
        const callback = args[1];
        if (typeof callback !== "function") {
          hub.error("invalid_call", "scantrack('ready', callback): callback must be a function, not " + typeof callback);
        } else if (state === LIVE) {
          callReady(callback);
        } else if (state === LOADING) {
          readyCallbacks[readyCallbacks.length] = callback;
        }
        return undefined;
      }
      if (run) return run(command, args, 1);
      if (command === "sessionId") return undefined;
      if (pending.length < MAX_PENDING_CALLS) {
        pending[pending.length] = toArray(args, 0);
      } else if (!overflowReported && state === LOADING) {
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
      log(ERROR, "a 'ready' callback threw: " + messageOf(e));
    }
  }

  function fail(kind, message) {
    state = FAILED;
    readyCallbacks.length = 0;
    message += NOT_TRACKED;
    log(ERROR, message);
    hub.error(kind, "scantrack: " + message);
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
        // A hostile queue (a throwing getter): that entry is skipped.
      }
    }
  }

  const doc = document;
  const script = doc.currentScript || doc.querySelector("script[data-site-id]");
  if (!script) {
    return fail("config", "cannot find its own <script> tag (load dist/scantrack.js with a plain <script src> tag)");
  }
  // The `data-*` attributes: each option's name in kebab case (data-site-id: siteId), text
  // unless the option is a flag ("true"/"false", empty means true) or a whole number.
  const options = {};
  for (let i = -2; i < OPTIONS.length; i++) {
    const name = i === -2 ? "siteId" : i === -1 ? "endpoint" : OPTIONS[i][0];
    const kind = i < 0 ? null : OPTIONS[i][1];
    const attr = "data-" + name.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
    const raw = script.getAttribute(attr);
    if (raw === null) continue;
    const text = raw.trim();
    const value =
      kind === FLAG ? (text === "" || text === "true" ? true : text === "false" ? false : null) : kind === WHOLE ? (/^[0-9]+$/.test(text) ? +text : null) : text;
    if (value === null) return fail("config", attr + '="' + raw + '" must be ' + (kind === FLAG ? '"true" or "false"' : "a whole number"));
    options[name] = value;
  }
  if (!options.siteId || !options.endpoint) {
    return fail("config", 'the script tag needs data-site-id and data-endpoint (e.g. data-site-id="site_demo" data-endpoint="https://collect.example.com")');
  }
  hub.debug = options.debug === true;

  let wasmUrl = WASM_FILE;
  // Started now, with the page's `fetch` as it was when this script ran. The bytes, not the
  // stream, are compiled: no dependency on the server's Content-Type for .wasm.
  new Promise(function (resolve) {
    wasmUrl = new URL(WASM_FILE, script.src).href;
    resolve(fetch(wasmUrl, script.integrity ? { integrity: WASM_INTEGRITY } : {}));
  })
    .then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status + " " + r.statusText);
      return r.arrayBuffer();
    })
    .then(function (bytes) {
      return WebAssembly.instantiate(bytes, __wbg_get_imports());
    })
    .then(function (m) {
      return __wbg_finish(m.instance);
    })
    .then(
      function (exports) {
        try {
          run = startTracker(st_api(), exports, options, hub);
        } catch (e) {
          return fail("config", messageOf(e).replace(/^scantrack: /, ""));
        }
        state = LIVE;
        // The contract's order: the automatic page_view (tracked by the constructor) first,
        // then the queued calls in the order they were made, then the ready callbacks.
        for (let i = 0; i < pending.length; i++) {
          const call = pending[i];
          pending[i] = undefined;
          run(call[0], call, 1); // never throws
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
      log(ERROR, messageOf(e));
    });
}
