-- POST /create-order with an orderId no other request of any run has used:
-- "<run prefix>-<thread>-<counter>". The prefix is the first script argument. A second names a
-- file of orderIds, one a line, sent first instead (with one wrk thread only: each thread would
-- send them all).
-- counter is a global so that done() can read each thread's.
counter = 0
local next_thread = 1
local threads = {}
local prefix = "run"
local listed = {}
local headers = {["Content-Type"] = "application/json"}

function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  prefix = args[1] or prefix
  if args[2] then
    for line in io.lines(args[2]) do
      listed[#listed + 1] = line
    end
  end
end

function request()
  counter = counter + 1
  local order_id = listed[counter] or string.format("%s-%d-%d", prefix, thread_id, counter)
  local body = string.format('{"orderId":"%s","itemsCount":%d}', order_id, counter % 5 + 1)
  return wrk.format("POST", "/create-order", headers, body)
end

-- With WRK_DETAIL set, print after the run which orderIds each thread sent, and every
-- latency wrk recorded (µs) with its count, so that the runs of several wrk processes side by
-- side merge into one (bench/wrk.py).
function done(summary, latency, requests)
  if os.getenv("WRK_DETAIL") == nil then
    return
  end
  for _, thread in ipairs(threads) do
    -- wrk 4.1 calls request() once on the first thread before the run, to count pipelined
    -- requests, and never sends that one.
    local id = thread:get("thread_id")
    local first = id == 1 and 2 or 1
    io.write(string.format("sent %d %d %d\n", id, first, thread:get("counter")))
  end
  for i = 1, #latency do
    local value, count = latency(i)
    io.write(string.format("latency-us %d %d\n", value, count))
  end
end
