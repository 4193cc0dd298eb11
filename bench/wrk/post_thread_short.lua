-- POST /v1/threads with a short question (8-word title, one-sentence body): shows how much of the
-- POST cost is the similar-thread suggestion, which scales with the length of the draft.
package.path = (os.getenv("SW_WRK_DIR") or "bench/wrk") .. "/?.lua;" .. package.path
local common = require("common")
setup = common.setup
wrk.headers["Content-Type"] = "application/json"
local tags = { "oracle-19c", "pricing", "sso", "gdpr", "delivery", "salesforce", "sla", "discount" }
local n = 0

function init(args)
  math.randomseed(15485863 * (thread_no or 1))
end

function request()
  n = n + 1
  local body = string.format(
    '{"title":"Short bench %d-%d: is %s certified?","body":"Customer needs an answer this week.","tags":["%s"]}',
    thread_no or 0, n, tags[math.random(#tags)], tags[math.random(#tags)])
  return wrk.format("POST", "/v1/threads", nil, body)
end
