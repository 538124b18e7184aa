-- wrk script: POST /api/v1/recommend as random users of the bench tenant.
--
-- Usage:
--   wrk -t2 -c64 -d30s --latency -s bench/recommend.lua http://127.0.0.1:8000
-- Optional overrides after "--" (key=value):
--   wrk ... -s bench/recommend.lua http://127.0.0.1:8000 -- users=10000 tenant=bench scenario=bench_feed count=20
--
-- Every request carries a random X-User-Id drawn from u0..u{users-1}. The requests are
-- pre-built once per thread in init() so request() costs only a random index.
-- Non-2xx accounting uses wrk's own summary.errors.status in done() (no response()
-- callback, which would slow wrk down). Note: wrk counts only status >= 400 there.

local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
end

local requests = {}
local n_requests = 0

function init(args)
   local opts = { users = "10000", tenant = "bench", scenario = "bench_feed", count = "20" }
   for _, a in ipairs(args) do
      local k, v = a:match("^([%w_]+)=(.*)$")
      if k then opts[k] = v end
   end

   -- Seed per thread: time plus thread id, so threads draw different user sequences.
   math.randomseed(os.time() * 1000 + (id or 0) * 7919)
   math.random(); math.random(); math.random()

   local body = string.format('{"scenario_id":"%s","count":%d}', opts.scenario, tonumber(opts.count))
   n_requests = tonumber(opts.users)
   for u = 0, n_requests - 1 do
      local headers = {
         ["Content-Type"] = "application/json",
         ["X-Tenant-Id"] = opts.tenant,
         ["X-User-Id"] = "u" .. u,
      }
      requests[u + 1] = wrk.format("POST", "/api/v1/recommend", headers, body)
   end
end

function request()
   return requests[math.random(n_requests)]
end

function done(summary, latency, requests_)
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write("------------------------------\n")
   io.write(string.format("requests:        %d in %.2fs (%.1f req/s)\n",
      summary.requests, secs, summary.requests / secs))
   io.write(string.format("non-2xx (>=400): %d\n", e.status))
   io.write(string.format("socket errors:   connect %d, read %d, write %d, timeout %d\n",
      e.connect, e.read, e.write, e.timeout))
   io.write(string.format("latency ms:      p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, latency.max / 1000))
end
