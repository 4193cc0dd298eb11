-- Shared by the streetwise wrk scripts: bearer token from SW_TOKEN, a per-thread id for seeding.
local M = {}
local token = os.getenv("SW_TOKEN")
if not token or token == "" then error("set SW_TOKEN to an API token") end
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Accept"] = "application/json"

local counter = 0
function M.setup(thread)
  counter = counter + 1
  thread:set("thread_no", counter)
end

function M.read_lines(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then out[#out + 1] = line end
  end
  if #out == 0 then error("no lines in " .. path) end
  return out
end

return M
