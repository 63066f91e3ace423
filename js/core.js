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
/** `log`'s levels: console.error, console.warn, console.log as they were at load. */
const CONSOLE = [console.error, console.warn, console.log];
export const ERROR = 0;
const WARN = 1;

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

/** `"scantrack: " + text` on the console at `level` (ERROR, WARN, 2: log); never throws. */
export function log(level, text) {
  try {
    apply(CONSOLE[level], console, ["scantrack: " + text]);
  } catch (_) {
    // A console that throws is not worth breaking the page over.
  }
}

/** An array copy of an `arguments` object (or array) without iterators or prototype methods. */
export function toArray(args, from) {
  const out = [];
  try {
    const n = args.length >>> 0;
    for (let i = from; i < n; i++) out[out.length] = args[i];
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
export function createHub() {
  // No prototype: only these three types are listenable.
  const listeners = { __proto__: null, error: [], delivered: [], dropped: [] };
  const pending = [];
  let scheduled = false;
  const hub = {
    debug: false,

    /** Registers a listener; returns a function that removes it. Validates its arguments. */
    on(type, callback) {
      if (typeof type !== "string" || !listeners[type] || typeof callback !== "function") {
        hub.error(
          "invalid_call",
          "scantrack('on', type, callback): type must be 'error', 'delivered' or 'dropped' and callback a function (got " +
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
        report = { type: "error", kind: "internal", message: "unreadable report from the wasm: " + messageOf(e) };
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
    if (type === "debug") return log(2, report.message);
    if (hub.debug) {
      if (type === "error") log(ERROR, report.message);
      else if (type === "dropped") log(WARN, "event " + report.event_name + " (" + report.event_id + ") dropped, " + report.reason + ": " + report.message);
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
        log(ERROR, "a '" + type + "' listener threw: " + messageOf(e));
      }
    }
  }

  return hub;
}

const isArray = Array.isArray;

/** An object that can be event properties (or nothing). */
function props(v) {
  return v == null || (typeof v === "object" && !isArray(v));
}

/**
 * Whether a `track`/`page` call has the shape of one that can be accepted: then it returns the
 * event's id at once (the wasm takes the event in a task of its own, and reports a refusal it
 * finds there through the `error` callback).
 */
function plausible(command, src, from) {
  if (command === "page") return props(src[from]);
  const c = src[from + 2];
  return (
    typeof src[from] === "string" &&
    props(src[from + 1]) &&
    (c == null || (typeof c === "object" && typeof c.amount === "number" && typeof c.currency === "string"))
  );
}

/**
 * `run(command, src, from)`: the call `command(src[from], src[from + 1], ...)` on the tracker
 * `tid` of the host API (js/host.js). Serialises the call and turns every failure into a report.
 * Returns the event id for track/page, a never-rejecting Promise for flush, the visit's
 * scan_session_id for `sessionId` (an extension of the calling convention).
 */
function createRunner(api, tid, hub) {
  function run(command, src, from) {
    if (command === "sessionId") return api.session(tid);
    const flush = command === "flush";
    const event = command === "track" || command === "page";
    try {
      const args = toArray(src, from - 1);
      args[0] = command;
      // Trailing undefined arguments are "not given" (JSON would turn them into null anyway).
      while (args.length > 1 && args[args.length - 1] === undefined) args.length--;
      const json = stringify(args);
      if (command === "debug" && typeof args[1] === "boolean") hub.debug = args[1];
      if (event) return api.event(tid, json, plausible(command, src, from));
      if (flush) return api.flush(tid, json);
      api.call(tid, json);
    } catch (e) {
      hub.error(
        "invalid_call",
        "scantrack('" + describe(command) + "', ...): arguments could not be serialised (" + messageOf(e) + "); " +
          (event ? "the event was not tracked" : "the call was ignored"),
      );
    }
    return flush ? resolved : undefined;
  }
  /**
   * `run.track(name, properties, conversion)`: the common call, `track(name, properties?)`,
   * with nothing but the properties' JSON.stringify and a few stores (the target: within 2x of
   * JSON.stringify alone). Any other shape, and properties that cannot be serialised, take the
   * general path, which reports what is wrong.
   */
  run.track = function (name, p, c) {
    try {
      if (c === undefined && typeof name === "string" && props(p)) return api.track(tid, name, p == null ? undefined : stringify(p));
    } catch (_) {
      // Circular, BigInt, a throwing getter or toJSON: `run` serialises again and reports it.
    }
    return run("track", [name, p, c], 0);
  };
  return run;
}

// ---- options ----------------------------------------------------------------------------------

/** A flag: true or false. */
export const FLAG = 0;
/** A whole number, not negative (its range is the core's to check). */
export const WHOLE = 1;

/**
 * Every option but `siteId` and `endpoint`: its name and what its value must be (FLAG, WHOLE, or
 * the list of its choices), in the order the wasm reads them (src/options.rs, `OPTIONS`). The
 * script tag's `data-*` attributes are these names in kebab case.
 */
export const OPTIONS = [
  ["autoPageview", FLAG],
  ["debug", FLAG],
  ["honorGlobalPrivacyControl", FLAG],
  ["consent", ["pending", "granted", "denied"]],
  ["piiPolicy", ["redact", "hash", "reject"]],
  ["emailNormalization", ["standard", "google"]],
  ["flushIntervalMs", WHOLE],
  ["maxBatchEvents", WHOLE],
  ["maxBatchBytes", WHOLE],
  ["maxRequestsPerMinute", WHOLE],
  ["requestTimeoutMs", WHOLE],
  ["maxQueueBytes", WHOLE],
  ["persistDelayMs", WHOLE],
  ["sessionTimeoutMs", WHOLE],
];

const hasOwn = Object.prototype.hasOwnProperty;
const OptionsError = Error;

/** An Error that says what to change in the options (told apart from what a getter throws). */
function bad(message) {
  const e = new OptionsError(message);
  e.scantrack = 1;
  return e;
}
const isInteger = Number.isInteger;

/** A value as a message shows what was given: `"5"`, `-1`, `true`, `null`, `an array`. */
function shown(v) {
  const t = typeof v;
  if (t === "string") return stringify(v);
  if (t === "bigint") return StringOf(v) + "n";
  if (v === null || t === "number" || t === "boolean") return StringOf(v);
  return isArray(v) ? "an array" : t === "object" ? "an object" : "a " + t;
}

/**
 * `options` as the wasm reads them (src/options.rs, `Options::from_js`): the JSON array of
 * `siteId`, `endpoint`, then OPTIONS in order, `null` where not given (or `undefined`); choices
 * as their index. Throws an Error saying what to fix, for the first problem in the order the
 * options are written. What the core owns (the site id's form, the endpoint URL, ranges) the
 * wasm checks.
 */
export function encodeOptions(options) {
  if (!options || typeof options !== "object" || isArray(options)) throw bad("options must be an object, not " + shown(options));
  const values = [];
  const required = function (key, example) {
    const v = options[key];
    if (typeof v === "string") return v;
    throw bad(key + (v === undefined ? " is required (" + example + ")" : " must be a string, not " + shown(v)));
  };
  values[0] = required("siteId", 'e.g. siteId: "site_demo"');
  values[1] = required("endpoint", 'the collector\'s base URL, e.g. "https://collect.example.com"');
  for (let i = 0; i < OPTIONS.length; i++) values[i + 2] = null;
  for (const key in options) {
    if (key === "siteId" || key === "endpoint" || !apply(hasOwn, options, [key])) continue;
    const v = options[key];
    if (v === undefined) continue;
    let i = 0;
    while (i < OPTIONS.length && OPTIONS[i][0] !== key) i++;
    if (i === OPTIONS.length) throw bad("unknown option " + stringify(key) + "; see the README for the list");
    const kind = OPTIONS[i][1];
    let what;
    if (kind === FLAG) {
      if (typeof v === "boolean") values[i + 2] = v;
      else what = "true or false";
    } else if (kind === WHOLE) {
      if (isInteger(v) && v >= 0) values[i + 2] = v;
      else what = "a whole number";
    } else {
      let c = 0;
      while (c < kind.length && kind[c] !== v) c++;
      if (c < kind.length) values[i + 2] = c;
      else {
        // No array methods: a page may have replaced them.
        what = "";
        for (c = 0; c < kind.length; c++) what += (c === 0 ? "" : c === kind.length - 1 ? " or " : ", ") + '"' + kind[c] + '"';
      }
    }
    if (what) throw bad(key + " must be " + what + ", not " + shown(v));
  }
  return stringify(values);
}

/**
 * Starts the tracker from `options` on the host API; returns its runner, or throws an Error
 * saying what is wrong with the options.
 */
export function startTracker(api, exports, options, hub) {
  let json;
  try {
    json = encodeOptions(options);
  } catch (e) {
    let ours = false;
    try {
      ours = e.scantrack === 1;
    } catch (_) {
      // A hostile thrown value: not ours.
    }
    // What a hostile options object threw (a getter, a Proxy trap) is said as such.
    throw ours ? e : new Error("options could not be read (" + messageOf(e) + ")");
  }
  const tid = api.start(exports, json, hub.fromWasm);
  return createRunner(api, tid, hub);
}
