-- GET /v1/threads/{id} for ids drawn uniformly at random from SW_IDS (one id per line).
package.path = (os.getenv("SW_WRK_DIR") or "bench/wrk") .. "/?.lua;" .. package.path
local common = require("common")
local ids = common.read_lines(os.getenv("SW_IDS"))
setup = common.setup

function init(args)
  math.randomseed(7919 * (thread_no or 1))  -- reproducible sequence per wrk thread
end

function request()
  return wrk.format("GET", "/v1/threads/" .. ids[math.random(#ids)])
end
