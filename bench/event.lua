-- wrk script: POST /api/v1/behaviors, one click event per request, random user and item of the
-- bench data set. Each request is acknowledged only once the event is durable (group commit).
--
--   wrk -t2 -c16 -d15s --latency -s bench/event.lua http://127.0.0.1:8000

local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
end

function init(args)
   math.randomseed(os.time() + id * 7919)
end

function request()
   local body = string.format(
      '{"event_type":"click","user_id":"u%d","item_id":"i%d","scenario_id":"bench_feed"}',
      math.random(0, 9999), math.random(0, 99999))
   return wrk.format("POST", "/api/v1/behaviors",
      {["Content-Type"] = "application/json", ["X-Tenant-Id"] = "bench"}, body)
end

function done(summary, latency, requests)
   io.write(string.format("acknowledged: %d events (non-2xx: %d)\n",
      summary.requests - summary.errors.status, summary.errors.status))
   io.write(string.format("latency ms: p50 %.2f  p99 %.2f  max %.2f\n",
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
