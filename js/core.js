// The JavaScript half of every public entry point, shared by the script-tag loader
// (`loader.js`) and the npm entry (`index.js`): it turns a call into the JSON text the wasm
// `Tracker` takes, and the tracker's JSON reports into callbacks.
//
// Invariants:
// - Nothing here throws into the page. Every path that touches page-supplied values
//   (arguments, listeners, getters, `toJSON`) is inside try/catch; failures become an `error`
//   report, never an exception.
// - Built-ins are captured when this module is evaluated (script load time): a page that later
//   replaces `JSON.stringify`, `Array.prototype.push`, `Function.prototype.call` or
//   `console.error` cannot break the tracker or make it throw. For the same reason this file
//   uses no spread, no `for...of` and no array methods on page data (they go through
//   overridable iterators and prototypes).
// - Listeners never run inside a wasm call: reports are queued and dispatched from a microtask,
//   so a listener may call back into the tracker (re-entering a wasm method that holds a
//   borrow would abort the module).

const stringify = JSON.stringify;
const parse = JSON.parse;
const StringOf = String;
const PromiseCtor = Promise;
const resolved = PromiseCtor.resolve();
const then = PromiseCtor.prototype.then;
const apply = Reflect.apply;
const consoleError = console.error;
const consoleWarn = console.warn;
const consoleLog = console.log;

/** Report types a page can listen to with `on(type, callback)`. */
const LISTENABLE = { error: 1, delivered: 1, dropped: 1 };

/** Commands that produce an event: their serialisation failure drops an event. */
const EVENT_COMMANDS = { track: 1, page: 1 };

/** A page-supplied value as short text for a message; never throws. */
export function describe(value) {
  try {
    if (typeof value === "string") return value.length > 40 ? value.slice(0, 40) + "..." : value;
    return typeof value;
  } catch (_) {
    return "?";
  }
}

/** The message of a thrown value; never throws (a hostile error may have a throwing getter). */
export function messageOf(e) {
  try {
    const m = e && typeof e === "object" && "message" in e ? e.message : e;
    return StringOf(m);
  } catch (_) {
    return "unknown error";
  }
}

/** `console.error` etc. as captured at load, called without `this` tricks; never throws. */
export function log(kind, text) {
  try {
    apply(kind === "error" ? consoleError : kind === "warn" ? consoleWarn : consoleLog, console, [text]);
  } catch (_) {
    // A console that throws is not worth breaking the page over.
  }
}

/** An array copy of an `arguments` object (or array) without iterators or prototype methods. */
export function toArray(args, from) {
  const out = [];
  try {
    const n = args.length >>> 0;
    for (let i = from || 0; i < n; i++) out[out.length] = args[i];
  } catch (_) {
    // A hostile array-like: use what was read.
  }
  return out;
}

/** Calls `f` after the current task's synchronous work, outside any wasm frame. */
function later(f) {
  apply(then, resolved, [f]);
}

/**
 * The listener registry and report dispatcher. `debug` mirrors the tracker's debug switch so
 * that errors and drops reach the console in debug mode (the contract: "console in debug mode,
 * the error callback always").
 */
export function createHub(debug) {
  const listeners = { error: [], delivered: [], dropped: [] };
  const pending = [];
  let scheduled = false;
  const hub = {
    debug: !!debug,

    /** Registers a listener; returns a function that removes it. Validates its arguments. */
    on(type, callback, prefix) {
      if (typeof type !== "string" || !LISTENABLE[type] || typeof callback !== "function") {
        hub.error(
          "invalid_call",
          prefix +
            "('on', type, callback): type must be 'error', 'delivered' or 'dropped' and callback a function (got " +
            describe(type) +
            ", " +
            typeof callback +
            ")",
        );
        return function off() {};
      }
      const list = listeners[type];
      const entry = { callback };
      list[list.length] = entry;
      return function off() {
        entry.callback = null;
      };
    },

    /** Queues a report object for the listeners of its type. */
    emit(report) {
      pending[pending.length] = report;
      if (!scheduled) {
        scheduled = true;
        later(drain);
      }
    },

    /** Reports an error the JS side found itself (same shape as the wasm's error reports). */
    error(kind, message) {
      hub.emit({ type: "error", kind, message });
    },

    /** The wasm tracker's `onReport`: one JSON text per outcome. Never throws. */
    fromWasm(json) {
      let report;
      try {
        report = parse(json);
      } catch (e) {
        report = { type: "error", kind: "internal", message: "unreadable report from the wasm module: " + messageOf(e) };
      }
      if (report && typeof report === "object") hub.emit(report);
    },
  };

  function drain() {
    scheduled = false;
    // Reports emitted by listeners land in `pending` too and are handled in this same loop.
    for (let i = 0; i < pending.length; i++) {
      const report = pending[i];
      pending[i] = undefined;
      dispatch(report);
    }
    pending.length = 0;
  }

  function dispatch(report) {
    const type = report.type;
    if (type === "debug") {
      log("log", "scantrack: " + report.message);
      return;
    }
    if (hub.debug) {
      if (type === "error") log("error", "scantrack: " + report.message);
      else if (type === "dropped")
        log("warn", "scantrack: event " + report.event_name + " (" + report.event_id + ") dropped, " + report.reason + ": " + report.message);
    }
    const list = listeners[type];
    if (!list) return;
    // A snapshot of the length: listeners added during dispatch see the next report.
    const n = list.length;
    for (let i = 0; i < n; i++) {
      const callback = list[i].callback;
      if (!callback) continue;
      try {
        // A fresh object per listener: one listener's mutation is not another's surprise.
        callback(i === 0 ? report : parse(stringify(report)));
      } catch (e) {
        // The page's own bug: shown like an uncaught exception would be, without breaking us.
        log("error", "scantrack: a '" + type + "' listener threw: " + messageOf(e));
      }
    }
  }

  return hub;
}

/**
 * Wraps a wasm `Tracker` into `run(command, argsArrayLike, prefix)`: serialises the call,
 * hands it to the tracker, and turns every failure into a report. Returns what the tracker
 * returns (event id for track/page, a never-rejecting Promise for flush).
 */
export function createRunner(tracker, hub) {
  let broken = false;
  return function run(command, rest, prefix) {
    const args = [command];
    const n = rest.length;
    for (let i = 0; i < n; i++) args[i + 1] = rest[i];
    // Trailing undefined arguments are "not given" (JSON would turn them into null anyway).
    while (args.length > 1 && args[args.length - 1] === undefined) args.length--;
    let json;
    try {
      json = stringify(args);
    } catch (e) {
      const event = typeof command === "string" && EVENT_COMMANDS[command];
      hub.error(
        "invalid_call",
        prefix +
          "('" +
          describe(command) +
          "', ...): " +
          (event ? "properties" : "arguments") +
          " could not be serialised (" +
          messageOf(e) +
          "); " +
          (event ? "the event was not tracked" : "the call was ignored"),
      );
      return command === "flush" ? resolved : undefined;
    }
    if (broken) return command === "flush" ? resolved : undefined;
    if (command === "debug" && typeof rest[0] === "boolean") hub.debug = rest[0];
    let result;
    try {
      result = tracker.call(json);
    } catch (e) {
      // The contract says call() never throws; if it does (a wasm trap), the module's state is
      // unknown: stop using it rather than trap on every later call.
      broken = true;
      hub.error("internal", "scantrack stopped after an internal error (" + messageOf(e) + "); later calls are ignored");
      return command === "flush" ? resolved : undefined;
    }
    if (command === "flush") return settle(result);
    return result;
  };
}

/** A promise that resolves (to undefined) when `p` settles either way. */
export function settle(p) {
  if (!p || typeof p.then !== "function") return resolved;
  return new PromiseCtor(function (resolve) {
    try {
      p.then(
        function () {
          resolve();
        },
        function () {
          resolve();
        },
      );
    } catch (_) {
      resolve();
    }
  });
}

/**
 * The wasm tracker's `onReport` function. It carries its own `call` so that the glue's
 * `f.call(this, json)` keeps working when a page replaces `Function.prototype.call`.
 */
export function reportFunction(hub) {
  const f = function onReport(json) {
    hub.fromWasm(json);
  };
  try {
    Object.defineProperty(f, "call", {
      value: function (_this, json) {
        hub.fromWasm(json);
      },
    });
  } catch (_) {
    // Frozen Function objects: keep the prototype's call.
  }
  return f;
}

/** Builds the options JSON for the wasm tracker; `null` plus an error report if it fails. */
export function optionsJson(options, hub, prefix) {
  try {
    return stringify(options);
  } catch (e) {
    hub.error("config", prefix + ": options could not be serialised (" + messageOf(e) + ")");
    return null;
  }
}
