-- wrk script of bench/http_load.py: POST /api/answer, rotating the questions of the file
-- named by the QUESTIONS environment variable (one JSON request body per line); keeps the
-- server's took_ms of every answer and the statuses, and prints them with wrk's latency
-- percentiles as one JSON line at the end.

local bodies = {}
for line in io.lines(os.getenv("QUESTIONS")) do
  bodies[#bodies + 1] = line
end

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

local next_body = 0
took = {}
statuses = {}

function request()
  next_body = next_body % #bodies + 1
  return wrk.format("POST", "/api/answer", { ["Content-Type"] = "application/json" }, bodies[next_body])
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  local ms = body:match('"took_ms":%s*([%d%.]+)')
  if ms then
    took[#took + 1] = tonumber(ms)
  end
end

function done(summary, latency, requests)
  local all_took, all_statuses = {}, {}
  for _, thread in ipairs(threads) do
    for _, ms in ipairs(thread:get("took")) do
      all_took[#all_took + 1] = string.format("%.2f", ms)
    end
    for status, count in pairs(thread:get("statuses")) do
      all_statuses[#all_statuses + 1] = string.format('"%s": %d', status, count)
    end
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d}, "statuses": {%s}, "took_ms": [%s]}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    table.concat(all_statuses, ", "), table.concat(all_took, ", ")
  ))
end
