// Host tests (node:test; node's V8 is Chrome's) of js/host.js's `retryAfter`: the Retry-After
// header as the wasm gets it (`RetryAfter::from_host` in crates/core/src/response.rs reads the
// result): delta-seconds as sent, an HTTP date (RFC 9110 5.6.7, its three forms) as "@" and its
// Unix milliseconds, anything else as "" (the core then falls back to X-RateLimit-Reset or its
// backoff). These are the cases the core's own HTTP-date parser was tested with before the
// parsing moved to the platform.
import { test } from "node:test";
import assert from "node:assert/strict";

// js/host.js reads `window` and `document` when it loads (the browser is its only home); these
// stand-ins let node load it. Its date reading needs neither.
globalThis.window = globalThis;
globalThis.document = {};
const { retryAfter } = await import("../../js/host.js");

/** 1994-11-06T08:49:37Z, RFC 9110's example. */
const EXAMPLE = "@784111777000";

test("delta-seconds pass as sent; absent and junk headers are empty", () => {
  for (const v of ["0", "7", "120", "007", "99999999999999999999999"]) assert.equal(retryAfter(v), v);
  for (const v of [null, undefined, "", " 7", "7 ", "-5", "+5", "1.5", "1e3", "soon", "@123", "0x10", "١٢"]) {
    assert.equal(retryAfter(v), "", `${v}`);
  }
});

test("the three HTTP date forms of RFC 9110 are read as the same instant", () => {
  assert.equal(retryAfter("Sun, 06 Nov 1994 08:49:37 GMT"), EXAMPLE);
  assert.equal(retryAfter("Sunday, 06-Nov-94 08:49:37 GMT"), EXAMPLE);
  assert.equal(retryAfter("Sun Nov  6 08:49:37 1994"), EXAMPLE);
  assert.equal(retryAfter("Sun Nov 06 08:49:37 1994"), EXAMPLE);
  assert.equal(retryAfter("Mon, 23 Nov 2026 10:01:00 GMT"), "@1795428060000");
});

test("an asctime date is GMT, whatever the local time zone", () => {
  for (const zone of ["America/Los_Angeles", "Asia/Kolkata", "Pacific/Kiritimati"]) {
    process.env.TZ = zone;
    // The zone is in effect: the platform alone would read asctime as local time.
    assert.notEqual(Date.parse("Sun Nov  6 08:49:37 1994"), 784111777000, zone);
    assert.equal(retryAfter("Sun Nov  6 08:49:37 1994"), EXAMPLE, zone);
    assert.equal(retryAfter("Sun, 06 Nov 1994 08:49:37 GMT"), EXAMPLE, zone);
    assert.equal(retryAfter("Sunday, 06-Nov-94 08:49:37 GMT"), EXAMPLE, zone);
  }
  process.env.TZ = "UTC";
});

test("names and GMT in any case; day names are checked to be day names, not against the date", () => {
  assert.equal(retryAfter("SUN, 06 NOV 1994 08:49:37 gmt"), EXAMPLE);
  assert.equal(retryAfter("sunday, 06-nov-94 08:49:37 GMT"), EXAMPLE);
  assert.equal(retryAfter("sun nov  6 08:49:37 1994"), EXAMPLE);
  assert.equal(retryAfter("Mon, 06 Nov 1994 08:49:37 GMT"), EXAMPLE);
  assert.equal(retryAfter("Wednesday, 06-Nov-94 08:49:37 GMT"), EXAMPLE);
});

test("RFC 850's two-digit years are read as 1970 to 2069", () => {
  assert.equal(retryAfter("Thursday, 01-Jan-70 00:00:00 GMT"), "@0");
  assert.equal(retryAfter("Friday, 31-Dec-99 23:59:59 GMT"), "@946684799000");
  assert.equal(retryAfter("Saturday, 01-Jan-00 00:00:00 GMT"), "@946684800000");
  assert.equal(retryAfter("Monday, 23-Nov-26 10:00:01 GMT"), "@1795428001000");
  // The platform alone reads 50..69 as 1950..1969.
  assert.equal(retryAfter("Tuesday, 31-Dec-69 23:59:59 GMT"), "@3155759999000");
  assert.equal(retryAfter("Friday, 31-Dec-50 23:59:59 GMT"), "@2556143999000");
});

test("impossible dates and times are refused, not rolled over", () => {
  for (const v of [
    "Sun, 31 Nov 1994 08:49:37 GMT",
    "Sun, 29 Feb 2026 00:00:00 GMT",
    "Sun, 29 Feb 2100 00:00:00 GMT",
    "Sun, 00 Nov 1994 08:49:37 GMT",
    "Sun, 32 Jan 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 24:00:00 GMT",
    "Sun, 06 Nov 1994 23:60:00 GMT",
    "Sun, 06 Nov 1994 23:59:61 GMT",
    // A leap second: servers write HTTP dates from Unix time, which has none.
    "Fri, 30 Jun 1972 23:59:60 GMT",
    "Sunday, 31-Nov-94 08:49:37 GMT",
    "Sun Nov 31 08:49:37 1994",
  ]) {
    assert.equal(retryAfter(v), "", v);
  }
  assert.equal(retryAfter("Tue, 29 Feb 2000 00:00:00 GMT"), "@951782400000");
  assert.equal(retryAfter("Thu, 29 Feb 2024 12:34:56 GMT"), "@1709210096000");
});

test("malformed HTTP dates and dates before 1970 are refused", () => {
  for (const v of [
    "Sun, 06 Nov 1994 08:49:37 UTC",
    "Sun, 06 Nov 1994 08:49:37 +0000",
    "Sun, 06 Nov 1994 08:49:37",
    "Sun, 6 Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 94 08:49:37 GMT",
    "Sun, 06-Nov-1994 08:49:37 GMT",
    "Sun, 06 Now 1994 08:49:37 GMT",
    "Sun, 06 Sun 1994 08:49:37 GMT",
    "Xyz, 06 Nov 1994 08:49:37 GMT",
    "Sun, 01 Jan 1969 00:00:00 GMT",
    "Wed, 31 Dec 1969 23:59:59 GMT",
    "Sun, 01 Jan 0099 00:00:00 GMT",
    "Sundae, 06-Nov-94 08:49:37 GMT",
    "Sun, 06-Nov-94 08:49:37 GMT",
    "Sunday, 06 Nov 1994 08:49:37 GMT",
    "Sunday, 06-Nov-94 08:49:37",
    "Sun Nov  6 08:49:37 94",
    "Sun Nov 6 08:49:37 1994",
    "Sun Nov  6 08:49:37 1994 GMT",
    "Sun  Nov 6 08:49:37 1994",
    "Sun Nov  6 8:49:37 1994",
    "Sun Nov \u00e9 08:49:37 1994",
    ", 06 Nov 1994 08:49:37 GMT",
    "\u00e9, 06 Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 08:49:37 GMT\u00e9",
    " Sun, 06 Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 08:49:37 GMT\nX",
    "1994-11-06T08:49:37Z",
    "06 Nov 1994 08:49:37 GMT",
  ]) {
    assert.equal(retryAfter(v), "", JSON.stringify(v));
  }
});

/** The three forms of `t` (whole seconds), written from its UTC fields. */
function forms(t) {
  const days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const d = new Date(t);
  const two = (n) => String(n).padStart(2, "0");
  const [day, date, mon, year] = [days[d.getUTCDay()], d.getUTCDate(), months[d.getUTCMonth()], d.getUTCFullYear()];
  const time = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
  return [
    `${day.slice(0, 3)}, ${two(date)} ${mon} ${year} ${time} GMT`,
    year < 2070 ? `${day}, ${two(date)}-${mon}-${two(year % 100)} ${time} GMT` : undefined,
    `${day.slice(0, 3)} ${mon} ${String(date).padStart(2)} ${time} ${year}`,
  ];
}

test("generated instants from 1970 to 9999 round-trip through all three forms", () => {
  process.env.TZ = "America/New_York";
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const last = 253402300799; // 9999-12-31T23:59:59Z, in seconds
  const instants = [0, 86399, 951782400, 4107542399, last];
  for (let i = 0; i < 3000; i++) instants.push(Math.floor(random() * (i % 2 ? last : 3e9)));
  for (const s of instants) {
    for (const v of forms(s * 1000)) if (v !== undefined) assert.equal(retryAfter(v), "@" + s * 1000, v);
  }
  process.env.TZ = "UTC";
});

test("a page that replaces toLowerCase or toUTCString after load does not change the reading", () => {
  const saved = [String.prototype.toLowerCase, Date.prototype.toUTCString];
  String.prototype.toLowerCase = function () {
    return "x";
  };
  Date.prototype.toUTCString = function () {
    return "x";
  };
  try {
    assert.equal(retryAfter("Sun, 06 Nov 1994 08:49:37 GMT"), EXAMPLE);
    assert.equal(retryAfter("Sun, 31 Nov 1994 08:49:37 GMT"), "");
  } finally {
    [String.prototype.toLowerCase, Date.prototype.toUTCString] = saved;
  }
});
