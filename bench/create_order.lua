-- POST /create-order with an orderId no other request of any run has used:
-- "<run prefix>-<thread>-<counter>". The prefix is the first script argument.
local counter = 0
local next_thread = 1
local prefix = "run"
local headers = {["Content-Type"] = "application/json"}

function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  prefix = args[1] or prefix
end

function request()
  counter = counter + 1
  local body = string.format('{"orderId":"%s-%d-%d","itemsCount":%d}',
    prefix, thread_id, counter, counter % 5 + 1)
  return wrk.format("POST", "/create-order", headers, body)
end
