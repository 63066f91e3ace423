// The npm entry of the `scantrack` package: `init(options)` loads the wasm module and returns a
// tracker object with the same methods and the same never-throw rules as the script tag's
// `window.scantrack(...)`.
//
// The wasm is located with `new URL("../pkg/scantrack_bg.wasm", import.meta.url)`, the form
// bundlers (Vite, Rollup, webpack 5, Parcel) recognise and copy as an asset without a plugin.
// With esbuild, import the wasm as a file (`import wasm from "scantrack/scantrack_bg.wasm"`
// with `--loader:.wasm=file`) and pass it as the `wasm` option.
//
// Invariant: neither `init` nor any tracker method throws or rejects. `init` resolves to an
// inert tracker (its `error` says why) when the module cannot load or the options are unusable,
// after one console error and an `error` report to the `on.error` option's callback.

import initWasm from "../pkg/scantrack.js";
// The same module instance the glue imports: scripts/build-dist.mjs points the npm glue's
// snippet import at ../js/host.js.
import { st_api } from "./host.js";
import { createHub, startTracker, log, messageOf, ERROR } from "./core.js";

/** Keys of `init`'s options handled here; everything else goes to the wasm tracker. */
const JS_ONLY = { wasm: 1, on: 1 };
const LISTENABLE = ["error", "delivered", "dropped"];
const hasOwn = Object.prototype.hasOwnProperty;
const apply = Reflect.apply;

/**
 * Loads the wasm module (once per page) and creates a tracker.
 * @param {import("../types/index.js").Options} options
 * @returns {Promise<import("../types/index.js").ScantrackTracker>}
 */
export async function init(options) {
  const hub = createHub();
  let wasmOptions = {};
  let kind = "config";
  try {
    if (!options || typeof options !== "object") {
      throw new TypeError('init(options): options must be an object like {siteId: "site_demo", endpoint: "https://collect.example.com"}');
    }
    const on = options.on;
    if (on && typeof on === "object") {
      for (let i = 0; i < LISTENABLE.length; i++) {
        const cb = on[LISTENABLE[i]];
        if (cb !== undefined) hub.on(LISTENABLE[i], cb);
      }
    }
    for (const key in options) {
      if (!JS_ONLY[key] && apply(hasOwn, options, [key])) wasmOptions[key] = options[key];
    }
    hub.debug = wasmOptions.debug === true;
    const wasm = options.wasm === undefined ? new URL("../pkg/scantrack_bg.wasm", import.meta.url) : options.wasm;
    let exports;
    try {
      exports = await initWasm({ module_or_path: wasm });
    } catch (e) {
      kind = "load";
      throw new Error("could not load its WebAssembly module (" + describeWasm(wasm) + messageOf(e) + ")");
    }
    kind = "config";
    return live(startTracker(st_api(), exports, wasmOptions, hub), hub);
  } catch (e) {
    const reason = messageOf(e).replace(/^scantrack: /, "") + "; events are not tracked";
    const error = "scantrack: " + reason;
    log(ERROR, reason);
    hub.error(kind, error);
    return inert(hub, error);
  }
}

function describeWasm(wasm) {
  try {
    return typeof wasm === "string" || wasm instanceof URL ? String(wasm) + ": " : "";
  } catch (_) {
    return "";
  }
}

function live(run, hub) {
  return {
    error: null,
    track(name, properties, conversion) {
      return run.track(name, properties, conversion);
    },
    page() {
      return run("page", arguments, 0);
    },
    identify() {
      run("identify", arguments, 0);
    },
    flush() {
      return run("flush", arguments, 0);
    },
    consent() {
      run("consent", arguments, 0);
    },
    reset() {
      run("reset", arguments, 0);
    },
    debug() {
      run("debug", arguments, 0);
    },
    on(type, callback) {
      return hub.on(type, callback);
    },
    sessionId() {
      try {
        return run("sessionId", arguments, 0);
      } catch (e) {
        hub.error("internal", "scantrack: sessionId() failed (" + messageOf(e) + ")");
        return "";
      }
    },
  };
}

/** The tracker `init` resolves to when it could not start: every method is a harmless no-op. */
function inert(hub, error) {
  const nothing = function () {
    return undefined;
  };
  return {
    error,
    track: nothing,
    page: nothing,
    identify: nothing,
    flush() {
      return Promise.resolve();
    },
    consent: nothing,
    reset: nothing,
    debug: nothing,
    on(type, callback) {
      return hub.on(type, callback);
    },
    sessionId() {
      return "";
    },
  };
}
