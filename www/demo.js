// The demo page's controls: every button is one `scantrack(...)` call (or one call to the
// collector's fault API), and every outcome the tracker reports lands in the live log.
// Served by the collector at /demo/ next to /dist/ and the fault API (/__admin/, loopback only).

const $ = (id) => document.getElementById(id);
const MAX_LOG_LINES = 300;
const counts = { delivered: 0, dropped: 0, error: 0 };

function log(kind, text) {
  const line = document.createElement("li");
  line.className = kind;
  const time = new Date().toISOString().slice(11, 23);
  line.textContent = `${time}  ${kind.padEnd(9)} ${text}`;
  const list = $("log");
  list.prepend(line);
  while (list.childElementCount > MAX_LOG_LINES) list.lastElementChild.remove();
}

function count(kind, n) {
  counts[kind] += n;
  $(`count-${kind}`).textContent = counts[kind];
}

function showSession() {
  $("session").textContent = scantrack("sessionId") || "(not loaded)";
}

// Listeners registered before dist/scantrack.js has loaded: the stub queues them and the loader
// registers them first, so they also see what happens while it starts.
scantrack("on", "delivered", (r) => {
  count("delivered", r.event_ids.length);
  log("delivered", `${r.event_ids.length} event(s): ${r.event_ids.slice(0, 3).join(", ")}${r.event_ids.length > 3 ? ", ..." : ""}`);
  showSession();
});
scantrack("on", "dropped", (r) => {
  count("dropped", 1);
  log("dropped", `${r.event_name} (${r.event_id}): ${r.reason}, ${r.message}`);
});
scantrack("on", "error", (r) => {
  count("error", 1);
  log("error", `[${r.kind}] ${r.message}`);
  if (r.kind === "load" || r.kind === "config") $("status").textContent = "not loaded: " + r.message;
});
scantrack("ready", () => {
  $("status").textContent = "loaded";
  showSession();
});

function tracked(what, id) {
  log("call", id ? `${what} -> event_id ${id}` : `${what} (not accepted; see the error)`);
}

$("track").addEventListener("click", () => {
  const name = $("event-name").value;
  tracked(`track('${name}')`, scantrack("track", name, { source: "demo", clicked_at: Date.now() }));
});

$("page").addEventListener("click", () => {
  tracked("page()", scantrack("page", { section: "demo" }));
});

$("identify").addEventListener("click", () => {
  scantrack("identify", { email: $("email").value });
  log("call", "identify({email}): the address is hashed in the page; only its SHA-256 is sent");
});

$("purchase").addEventListener("click", () => {
  const amount = Number($("amount").value);
  const currency = $("currency").value;
  tracked(`track('purchase', ..., {amount: ${amount}, currency: '${currency}'})`,
    scantrack("track", "purchase", { sku: "DEMO-1", qty: 1 }, { amount, currency }));
});

$("burst").addEventListener("click", () => {
  let accepted = 0;
  for (let i = 0; i < 500; i++) if (scantrack("track", "burst", { i })) accepted++;
  log("call", `burst: ${accepted} of 500 events accepted; watch them leave in batches`);
});

$("flush").addEventListener("click", () => {
  const started = performance.now();
  log("call", "flush()");
  Promise.resolve(scantrack("flush")).then(() =>
    log("call", `flush() resolved after ${Math.round(performance.now() - started)} ms`),
  );
});

for (const state of ["pending", "granted", "denied"]) {
  $(`consent-${state}`).addEventListener("click", () => {
    scantrack("consent", state);
    log("call", `consent('${state}')`);
  });
}

$("reset").addEventListener("click", () => {
  scantrack("reset");
  log("call", "reset(): new session, identity forgotten");
  showSession();
});

$("debug").addEventListener("change", (e) => {
  scantrack("debug", e.target.checked);
  log("call", `debug(${e.target.checked}): see the browser console`);
});

// --- The collector's fault injection (collector/src/faults.rs): a plan of scripted answers for
// the next POSTs to /collect/batch. Loopback clients only.
async function faults(method, plan, label) {
  try {
    const res = await fetch("/__admin/faults", {
      method,
      headers: { "content-type": "application/json" },
      body: plan ? JSON.stringify(plan) : undefined,
    });
    log("collector", `${label}: HTTP ${res.status}`);
  } catch (e) {
    log("collector", `${label}: ${e.message}`);
  }
}

// "Offline": every request's connection is dropped without an answer, as a dead network looks
// to fetch. Events stay queued and stored; "back online" delivers them.
$("offline").addEventListener("click", () =>
  faults("POST", { responses: [{ drop: true, times: 1_000_000 }] }, "offline (connections dropped)"),
);
$("online").addEventListener("click", () => faults("DELETE", null, "online (faults cleared)"));
$("rate-limit").addEventListener("click", () =>
  faults("POST", { append: true, responses: [{ status: 429, retry_after: 5 }] }, "next request: 429, Retry-After 5"),
);
$("server-errors").addEventListener("click", () =>
  faults("POST", { append: true, responses: [{ status: 503, times: 3 }] }, "next 3 requests: 503"),
);

$("clear-log").addEventListener("click", () => ($("log").textContent = ""));
