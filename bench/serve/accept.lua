-- wrk script: POST a webhook with the key from $WT_KEY to $WT_PATH, each request with its own
-- Idempotency-Key (so every request is a new execution and pays the dedup write), and a
-- histogram of status codes printed at the end: a run counts only 202s as accepted.
local key = os.getenv("WT_KEY")
local path = os.getenv("WT_PATH")
local run = os.getenv("WT_RUN") or tostring(os.time())
local body = '{"type":"order","id":42,"customer":"Ada","total":129.5}'
local threads = {}
local n = 0

function setup(thread)
  n = n + 1
  thread:set("tid", n)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  statuses = {}
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["content-type"] = "application/json"
  wrk.headers["x-api-key"] = key
end

function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = run .. "-" .. tid .. "-" .. counter
  return wrk.format(nil, path)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for code, c in pairs(s) do total[code] = (total[code] or 0) + c end
  end
  local secs = summary.duration / 1e6
  for code, c in pairs(total) do
    io.write(string.format("status %d: %d (%.0f/s)\n", code, c, c / secs))
  end
  io.write(string.format("latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000))
end
