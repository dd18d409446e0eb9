-- Loaded by bench/lib/load.mjs with `wrk -s`: prints the run's summary as one JSON line at the end.
-- Latencies are wrk's own histogram, in microseconds. With WRK_STOP_AFTER=n (one thread), it stops
-- sending once n responses have arrived and says so on stderr, where load.mjs answers with SIGINT (wrk
-- itself would wait out its -d); without it no response() is defined, which keeps wrk at full speed.
local limit = tonumber(os.getenv('WRK_STOP_AFTER') or '')
if limit then
  local count = 0
  function response()
    count = count + 1
    if count == limit then
      wrk.thread:stop()
      io.stderr:write('wrk-report: stopped\n')
      io.stderr:flush()
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
