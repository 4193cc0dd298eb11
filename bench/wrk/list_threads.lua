-- GET /v1/threads?limit=20 (first page, newest first). A static request: wrk's fast path.
package.path = (os.getenv("SW_WRK_DIR") or "bench/wrk") .. "/?.lua;" .. package.path
local common = require("common")
setup = common.setup
wrk.method = "GET"
wrk.path = "/v1/threads?limit=20"
