-- POST /v1/threads/{id}/answers (~300 bytes) on random threads from SW_IDS: a durable write that, unlike
-- POST /v1/threads, computes no similar-thread suggestions, so it isolates the commit path
-- (fsync group commit vs os).
package.path = (os.getenv("SW_WRK_DIR") or "bench/wrk") .. "/?.lua;" .. package.path
local common = require("common")
local ids = common.read_lines(os.getenv("SW_IDS"))
setup = common.setup
wrk.headers["Content-Type"] = "application/json"
local n = 0

function init(args)
  math.randomseed(32452843 * (thread_no or 1))
end

function request()
  n = n + 1
  local body = string.format(
    '{"body":"Answer %d-%d: yes, this is certified. Standard lead time in EMEA is %d business days; ' ..
    'discounts above %d%% need deal desk approval. The SLA is 99.9%% monthly uptime with service credits, ' ..
    'and the GDPR documentation (DPA, sub-processor list) is in the trust portal."}',
    thread_no or 0, n, math.random(3, 30), math.random(5, 30))
  return wrk.format("POST", "/v1/threads/" .. ids[math.random(#ids)] .. "/answers", nil, body)
end
