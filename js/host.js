// The browser side of the web shell: the one JavaScript module the wasm imports (src/web/host.rs
// declares these functions). It owns what is cheaper to write in JavaScript than to bind from
// Rust: fetch with its abort timer and the reading of the reply, sendBeacon, the timers,
// localStorage calls, the page's URL/title/referrer, the lifecycle and SPA listeners, the
// queue of calls the page made since the wasm last ran, and Unicode lower-casing (the browser's
// case tables, which the wasm would otherwise carry).
//
// Invariants:
// - The wasm is entered only through `wake` (its raw numeric export `scantrack_wake`): no
//   closures cross the boundary, strings go the other way by `st_text`/`st_take`, pulled by the
//   wasm while it runs. A wake the tracker refuses because it is busy (the page's code, run from
//   inside the tracker, called back) is repeated from a fresh task.
// - A `track`/`page` call costs the page a `JSON.stringify` and an array store: the wasm takes
//   the recorded text, its time and its event id from the queue in a zero-delay task, and before
//   anything else it does (timer, reply, hide, navigation, any other command), so order holds.
// - `fetch` and `sendBeacon` are captured when a tracker starts (a page that replaces them later
//   does not change what the tracker uses); built-ins this file calls later are captured at load.
// - Nothing here throws into the page.

const win = window;
const doc = document;
const setT = setTimeout;
const clearT = clearTimeout;
const now = Date.now;
const parseDate = Date.parse;
const DateCtor = Date;
const apply = Reflect.apply;
const StringOf = String;
const PromiseCtor = Promise;
const Bytes = Uint8Array;
const stringify = JSON.stringify;
const toLower = String.prototype.toLowerCase;
const toUTCString = Date.prototype.toUTCString;
/** The origin of the queued calls' times (see `queue`). */
const EPOCH = now();

// Wake kinds, as src/web/host.rs reads them.
const DRIVE = 0;
const HIDE = 1;
const REPLY = 2;
const NAV = 3;
const HASH = 4;
const SESSION = 5;
// DRIVE's argument: a zero-delay task for queued calls, a command that runs at once, the timer.
const QUEUED = 0;
const AT_ONCE = 1;
const TIMER = 2;

/** Per tracker: `p` its handle in the wasm, `q` queued calls, `f` flush resolvers. */
const trackers = [];
let ex; // the wasm's raw exports
let slot; // one string handed over inside one synchronous exchange with the wasm
let opening; // the report function of a tracker being started from JavaScript

/** A thrown value as `Name: message`, or its text. */
function describe(e) {
  try {
    return e && e.name ? e.name + ": " + e.message : StringOf(e);
  } catch (_) {
    return "unknown error";
  }
}

function wake(c, kind, a, b, text) {
  if (c.dead) return;
  slot = text;
  let r;
  try {
    r = ex.scantrack_wake(c.p, kind, a || 0, b || 0);
  } catch (e) {
    // A trap: the module's state is unknown, stop using it rather than trap again.
    c.dead = 1;
    if (c.r) c.r('{"type":"error","kind":"internal","message":' + stringify("scantrack stopped after an internal error (" + describe(e) + ")") + "}");
    for (const k in c.f) settle(c, k);
    return;
  }
  if (r === 1) setT(wake, 0, c, kind, a, b, text);
  else if (r === 2) drainSoon(c);
}

function drainSoon(c) {
  if (!c.d) {
    c.d = 1;
    setT(function () {
      c.d = 0;
      wake(c, DRIVE, QUEUED);
      if (!next && !c.dead) next = idRun();
    }, 0);
  }
}

function settle(c, k) {
  const f = c.f[k];
  delete c.f[k];
  if (f) f();
}

// ---- imported by the wasm (src/web/host.rs) ---------------------------------------------------

export function st_bind(exports) {
  ex = exports;
}

export function st_open(p, url, timeout) {
  const nav = navigator;
  const c = { p, url, timeout, q: [], i: 0, f: {}, k: 0, r: opening, fetch: win.fetch, nav, beacon: nav.sendBeacon, t: 0, d: 0 };
  opening = undefined;
  const tid = trackers.length;
  trackers[tid] = c;
  const hide = function (e) {
    wake(c, e.type === "pagehide" || doc.visibilityState === "hidden" ? HIDE : DRIVE, AT_ONCE);
  };
  // pagehide fires on navigation and close even when visibilitychange does not (and for pages
  // entering the back/forward cache).
  doc.addEventListener("visibilitychange", hide);
  win.addEventListener("pagehide", hide);
  win.addEventListener("popstate", function () {
    wake(c, NAV, 0);
  });
  // `location.hash = ...` changes the URL events carry without a page view.
  win.addEventListener("hashchange", function () {
    wake(c, HASH);
  });
  const h = history;
  const methods = ["pushState", "replaceState"];
  for (let i = 0; i < 2; i++) {
    const original = h[methods[i]];
    if (typeof original !== "function") continue;
    h[methods[i]] = function () {
      const before = location.href;
      // The page's own call first, with its own errors: the tracker does not change what it does.
      const result = apply(original, h, arguments);
      wake(c, NAV, 1, 0, before);
      return result;
    };
  }
  return tid;
}

export function st_now() {
  return now();
}

/** Fills wasm memory at `ptr` with `len` random bytes. */
export function st_random(ptr, len) {
  const b = new Bytes(ex.memory.buffer, ptr, len);
  try {
    crypto.getRandomValues(b);
  } catch (_) {
    // No Web Crypto: randomness here spreads ids and jitter, it protects no secret.
    for (let i = 0; i < len; i++) b[i] = Math.random() * 256;
  }
}

export function st_get(key) {
  try {
    const v = localStorage.getItem(key);
    return v === null ? undefined : v;
  } catch (_) {
    return undefined;
  }
}

/** Writes (or with no value removes) a key; returns why it failed, if it did. */
export function st_set(key, value) {
  try {
    const s = localStorage;
    if (value === undefined) s.removeItem(key);
    else s.setItem(key, value);
  } catch (e) {
    return describe(e);
  }
}

/** 0: location.href, 1: document.referrer, 2: document.title, 3: Global Privacy Control. */
export function st_page(what) {
  try {
    return what === 0 ? location.href : what === 1 ? doc.referrer : what === 2 ? doc.title : navigator.globalPrivacyControl === true ? "1" : "";
  } catch (_) {
    return "";
  }
}

/**
 * Lower-cases an address that is not all ASCII, for hashing: the Unicode default case mapping
 * (final sigma included, no locale), as Rust's `str::to_lowercase` does, so the wasm needs no
 * case tables of its own.
 */
export function st_lower(text) {
  return apply(toLower, text, []);
}

/**
 * Starts a request. Returns 0 when it is on its way (the reply comes back as a REPLY wake), 1 when
 * sendBeacon queued it, 2 when it could not leave (why: in `slot`).
 */
export function st_send(tid, id, body, unload) {
  const c = trackers[tid];
  try {
    if (!c.fetch) {
      if (unload && c.beacon) return apply(c.beacon, c.nav, [c.url, body]) ? 1 : ((slot = "sendBeacon refused"), 2);
      slot = "fetch is not available";
      return 2;
    }
    const abort = new AbortController();
    const timer = setT(function () {
      abort.abort();
    }, c.timeout);
    const reply = function (status, text) {
      clearT(timer);
      wake(c, REPLY, id, status, text);
    };
    // text/plain: a cross-origin POST without a CORS preflight, and the body sendBeacon takes.
    apply(c.fetch, win, [
      c.url,
      { method: "POST", body, keepalive: true, mode: "cors", credentials: "omit", headers: { "Content-Type": "text/plain;charset=UTF-8" }, signal: abort.signal },
    ]).then(
      function (r) {
        const h = r.headers;
        const head = retryAfter(h.get("Retry-After")) + "\n" + (h.get("X-RateLimit-Remaining") || "") + "\n" + (h.get("X-RateLimit-Reset") || "") + "\n";
        return r.text().then(
          function (t) {
            reply(r.status, head + t);
          },
          function () {
            reply(r.status, head);
          },
        );
      },
      function (e) {
        // status 1: the abort timer fired; 0: any other failure before a reply.
        reply(e && e.name === "AbortError" ? 1 : 0, describe(e));
      },
    );
    return 0;
  } catch (e) {
    slot = describe(e);
    return 2;
  }
}

/**
 * `Retry-After` as the wasm reads it (`RetryAfter::from_host` in crates/core/src/response.rs):
 * delta-seconds as sent, an HTTP date as "@" and its Unix milliseconds, anything else (absent,
 * junk, an impossible date, one before 1970) as "", which leaves the wasm to X-RateLimit-Reset
 * or its backoff. The platform's date parser does the calendar, so the wasm carries none.
 */
export function retryAfter(v) {
  if (/^\d+$/.test(v)) return v;
  // The three forms of RFC 9110 5.6.7; day names are checked to be day names, not to match
  // the date. Groups 1-4: IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT"; 5-8: RFC 850
  // "Sunday, 06-Nov-94 08:49:37 GMT"; 9-12: asctime "Sun Nov  6 08:49:37 1994". The fields
  // are taken loosely here: the round trip below checks each of them.
  const m = /^(?:(?:mon|tue|wed|thu|fri|sat|sun), (..) (...) (....) (.{8}) gmt|(?:mon|tues|wednes|thurs|fri|satur|sun)day, (..)-(...)-(..) (.{8}) gmt|(?:mon|tue|wed|thu|fri|sat|sun) (...) (..) (.{8}) (....))$/i.exec(v);
  if (!m) return "";
  // Rewritten as an IMF-fixdate without its day name, which Date.parse reads as GMT: asctime
  // has no zone and is GMT, where Date.parse would take it for local time; RFC 850's years
  // 70..99 are 1970..1999 and 00..69 2000..2069 (RFC 9110's "not more than 50 years in the
  // future", until 2069), where Date.parse would take 50..69 for 1950..1969.
  const s = m[1]
    ? m[1] + " " + m[2] + " " + m[3] + " " + m[4]
    : m[5]
      ? m[5] + " " + m[6] + " " + (m[7] < 70 ? 20 : 19) + m[7] + " " + m[8]
      : m[10].replace(" ", "0") + " " + m[9] + " " + m[12] + " " + m[11];
  const t = parseDate(s + " GMT");
  // Date.parse rolls an impossible date over (31 Nov is 1 Dec, 24:00 the next day) and skips
  // what it does not know: the instant must write back as exactly the date that was read.
  return t >= 0 && st_lower(apply(toUTCString, new DateCtor(t), []).slice(5, -4)) === st_lower(s) ? "@" + t : "";
}

/** Arms the tracker's one timer `delay` ms from now (a negative delay: no timer). */
export function st_timer(tid, delay) {
  const c = trackers[tid];
  clearT(c.t);
  c.t = delay < 0 ? 0 : setT(wake, delay, c, DRIVE, TIMER);
}

export function st_report(tid, json) {
  const c = trackers[tid];
  if (c.r) c.r(json);
}

export function st_settle(tid, ticket) {
  settle(trackers[tid], ticket);
}

/**
 * The next queued call, as `<ms> <event id or flush ticket> <JSON arguments>`: the text is put
 * together here, in the tracker's task, not in the page's call.
 */
export function st_take(tid) {
  const c = trackers[tid];
  const q = c.q;
  const i = c.i;
  if (i < q.length) {
    c.i = i + 4;
    const json = q[i + 2];
    const name = q[i + 3];
    return q[i] + EPOCH + " " + q[i + 1] + " " + (name === undefined ? json : '["track",' + stringify(name) + (json === undefined ? "" : "," + json) + "]");
  }
  q.length = 0;
  c.i = 0;
}

export function st_text() {
  const s = slot;
  slot = undefined;
  return s;
}

export function st_put(text) {
  slot = text;
}

export function st_api() {
  return api;
}

// ---- the JavaScript API (js/core.js): imported from this module by js/loader.js and js/index.js ----

// Event ids come from the wasm, 256 at a time in one string of 256 x 36 characters (one call
// and one string per run: formatting each id here cost about as much as the JSON.stringify of a
// call), and a call takes a slice of it: one small allocation. Concatenating hex pairs per id
// would also make a rope of ~20 string objects that the queue keeps alive until the next task.
// The next run is made ahead, in the tracker's task after the calls, so that a call seldom
// waits for one.
const IDS = 256;
let ids = "";
let taken = IDS;
let next = "";

/** A run of IDS ids from the wasm ("" if it could not make one). */
function idRun() {
  try {
    ex.scantrack_ids(IDS);
    return st_text() || "";
  } catch (_) {
    return "";
  }
}

/** The next version 4 UUID ("" if the wasm could not make one). */
function uuid() {
  if (taken === IDS) {
    ids = next || idRun();
    next = "";
    taken = 0;
  }
  return ids.slice(36 * taken, 36 * ++taken);
}

/**
 * Records a call: its time, its event id or flush ticket, its JSON text (or the properties' JSON
 * and the name of a `track`). The time is kept as milliseconds since the host module loaded: a
 * small integer the array holds as is, where Date.now() would be a boxed number per call.
 */
function queue(c, extra, json, name) {
  const q = c.q;
  const n = q.length;
  q[n] = now() - EPOCH;
  q[n + 1] = extra;
  q[n + 2] = json;
  q[n + 3] = name;
}

const api = {
  /** Starts a tracker from its options JSON; returns its id, or throws an Error saying what to fix. */
  start(exports, optionsJson, onReport) {
    ex = exports;
    opening = onReport;
    slot = optionsJson;
    const r = ex.scantrack_start();
    opening = undefined;
    const message = st_text();
    if (!r) throw new Error("scantrack: " + message);
    return r - 1;
  },
  /**
   * `track(name, properties?)`, the common call, with `properties` already serialised (or
   * undefined): recorded for the tracker's next task; returns its event id.
   */
  track(tid, name, json) {
    const c = trackers[tid];
    if (c.dead) return undefined;
    const id = uuid();
    queue(c, id, json, name);
    drainSoon(c);
    return id || undefined;
  },
  /** Any `track` or `page` call, recorded for the tracker's next task; returns its event id. */
  event(tid, json, withId) {
    const c = trackers[tid];
    if (c.dead) return undefined;
    const id = withId ? uuid() : "";
    queue(c, id, json);
    drainSoon(c);
    return id || undefined;
  },
  /** Any other call: run at once (after the calls queued before it). */
  call(tid, json) {
    const c = trackers[tid];
    queue(c, "", json);
    wake(c, DRIVE, AT_ONCE);
  },
  /** `flush`: a promise that resolves (never rejects) once the flush has settled. */
  flush(tid, json) {
    const c = trackers[tid];
    const k = ++c.k;
    const p = new PromiseCtor(function (resolve) {
      c.f[k] = resolve;
    });
    queue(c, k, json);
    wake(c, DRIVE, AT_ONCE);
    if (c.dead) settle(c, k);
    return p;
  },
  session(tid) {
    wake(trackers[tid], SESSION);
    return st_text() || "";
  },
};
