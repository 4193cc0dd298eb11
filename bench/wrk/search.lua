-- GET /v1/search?...: cycles through the request paths in SW_PATHS (one URL-encoded path per line,
-- written by bench/benchlib.py search-paths). Each wrk thread starts at a different offset.
package.path = (os.getenv("SW_WRK_DIR") or "bench/wrk") .. "/?.lua;" .. package.path
local common = require("common")
local paths = common.read_lines(os.getenv("SW_PATHS"))
setup = common.setup
local i = 0

function init(args)
  i = ((thread_no or 1) - 1) * 97
end

function request()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
