-- Create <quota> orders (second script argument), print "filled" and stop the thread; the
-- caller then interrupts wrk, whose main thread otherwise sleeps out the whole duration.
-- Requests past the quota are GET /health, which writes nothing; the thread stops once it has
-- seen <quota> answers 201, so every order it created was acknowledged.
local counter = 0
local created = 0
local next_thread = 1
local prefix = "fill"
local quota = 0
local last_create = 0
local headers = {["Content-Type"] = "application/json"}

function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  prefix = args[1]
  quota = tonumber(args[2])
  last_create = quota
  -- wrk 4.1 calls request() once on the first thread before the run, to count pipelined
  -- requests; that request is never sent, so it must not use up the quota.
  if thread_id == 1 then
    last_create = quota + 1
  end
end

function request()
  counter = counter + 1
  if counter > last_create then
    return wrk.format("GET", "/health")
  end
  local body = string.format('{"orderId":"%s-%d-%d","itemsCount":%d}',
    prefix, thread_id, counter, counter % 5 + 1)
  return wrk.format("POST", "/create-order", headers, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
    if created == quota then
      io.write("filled\n")
      io.flush()
      wrk.thread:stop()
    end
  end
end
