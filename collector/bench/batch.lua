-- wrk script: POST /collect/batch with EVENTS_PER_BATCH new events per request (fresh event ids,
-- so every event is really stored: duplicates would be cheaper and flatter the figure).
-- Usage: wrk -t2 -c32 -d10s -s collector/bench/batch.lua http://127.0.0.1:PORT
local events_per_batch = tonumber(os.getenv("EVENTS_PER_BATCH") or "10")
local threads = {}
local thread_counter = 0

function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("thread_id", thread_counter)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  run_id = os.time() % 1000000
end

local function uuid(n)
  -- A valid canonical UUID from (run, thread, counter): unique across threads and runs.
  return string.format("%08x-%04x-4%03x-8000-%012x", run_id, thread_id, 0, n)
end

function request()
  local parts = {}
  for i = 1, events_per_batch do
    counter = counter + 1
    parts[i] = string.format(
      '{"event_id":"%s","scan_session_id":"7ad26d4f-3181-4ef8-b6ca-b8f59499dd43",' ..
      '"event_name":"purchase","timestamp":"2026-11-23T10:00:01.500Z",' ..
      '"url":"https://shop.example/thanks","properties":{"sku":"A-1","qty":2},' ..
      '"conversion_value":{"amount":19.98,"currency":"EUR"}}', uuid(counter))
  end
  local body = '{"site_id":"site_bench","events":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format("POST", "/collect/batch", {["Content-Type"] = "text/plain;charset=UTF-8"}, body)
end

function response(status, headers, body)
  if status ~= 200 then
    bad = (bad or 0) + 1
    if bad <= 3 then print("unexpected status " .. status .. ": " .. body) end
  end
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local ok = summary.requests - summary.errors.status
  io.write(string.format("requests: %d in %.1f s, non-2xx: %d, socket errors: %d\n",
    summary.requests, secs, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  io.write(string.format("requests/s: %.0f, accepted events/s: %.0f (%d events per request)\n",
    ok / secs, ok * events_per_batch / secs, events_per_batch))
  io.write(string.format("latency p50 %.2f ms, p99 %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
