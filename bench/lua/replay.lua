-- Replays prepared requests in order (cycling), one Lua state per wrk thread.
-- RJ_BENCH_DATA: a Lua file returning {{method, path, bearer key, body or nil}, ...}
-- RJ_BENCH_OKLOG: where each thread writes the request id of every 2xx response
-- RJ_BENCH_RUN: a prefix making request ids unique to this run
-- In a path or body, @N@ is replaced by a token unique to the request.

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  reqs = dofile(os.getenv("RJ_BENCH_DATA"))
  run = os.getenv("RJ_BENCH_RUN")
  oklog = io.open(os.getenv("RJ_BENCH_OKLOG") .. "." .. tid, "w")
  idx = 0
  -- wrk calls request() once on the first thread to check the request before any is sent
  -- (script_verify_request): that call must not use up a request of the list.
  verified = tid ~= 1
  ok = 0
  other = 0
  -- each thread starts at its own place in the list, so threads never share a request
  offset = math.floor((tid - 1) * #reqs / 2)
end

function request()
  if not verified then
    verified = true
    local r = reqs[offset + 1]
    return wrk.format(r[1], r[2], {}, r[4])
  end
  idx = idx + 1
  local r = reqs[((offset + idx - 1) % #reqs) + 1]
  local token = run .. "-" .. tid .. "-" .. idx
  local headers = { ["X-Request-ID"] = token }
  if r[3] then headers["Authorization"] = "Bearer " .. r[3] end
  local body = r[4]
  if body then
    headers["Content-Type"] = "application/json"
    body = body:gsub("@N@", token)
  end
  return wrk.format(r[1], (r[2]:gsub("@N@", token)), headers, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
    oklog:write(headers["x-request-id"] or headers["X-Request-ID"] or "?", "\n")
  else
    other = other + 1
    if other <= 3 then
      io.stderr:write("non-2xx ", status, ": ", string.sub(body or "", 1, 300), "\n")
    end
  end
end

function done(summary, latency, requests)
  local total_ok, total_other = 0, 0
  for _, t in ipairs(threads) do
    total_ok = total_ok + t:get("ok")
    total_other = total_other + t:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"ok":%d,"other":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"p50":%d,"p95":%d,"p99":%d,"mean":%.1f,"max":%d}}\n',
    summary.requests, summary.duration, total_ok, total_other,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean, latency.max))
end
