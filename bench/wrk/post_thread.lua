-- POST /v1/threads: a new, distinct ~600-byte question per request (1-3 tags from a small list).
package.path = (os.getenv("SW_WRK_DIR") or "bench/wrk") .. "/?.lua;" .. package.path
local common = require("common")
setup = common.setup
wrk.headers["Content-Type"] = "application/json"

local tags = { "oracle-19c", "pricing", "sso", "saml", "gdpr", "delivery", "salesforce", "sap", "sla",
               "discount", "postgres", "sql-server", "data-residency", "lead-time", "renewal" }
local products = { "DataHub Enterprise", "RouteWise", "PayFlow", "IdentityGate", "ConnectBridge" }
local regions = { "EMEA", "APAC", "AMER", "LATAM" }
local n = 0

function init(args)
  math.randomseed(104729 * (thread_no or 1))
end

function request()
  n = n + 1
  local t1 = tags[math.random(#tags)]
  local t2 = tags[math.random(#tags)]
  local tagjson = (t1 == t2) and ('["' .. t1 .. '"]') or ('["' .. t1 .. '","' .. t2 .. '"]')
  local body = string.format(
    '{"title":"Bench %d-%d: does %s support %s for a %d-year deal?",' ..
    '"body":"The CIO asked whether we run on Oracle 19c and Postgres, what our SLA is (99.9%% uptime) and ' ..
    'whether data stays in %s for GDPR. Procurement wants a volume discount of %d%% and delivery within %d days ' ..
    'of the purchase order. They use Okta for SSO with SAML and need SCIM provisioning. Is there a reference ' ..
    'customer in %s at a similar scale? Please also confirm the Salesforce and SAP connectors are certified.",' ..
    '"tags":%s,"kind":"question","region":"%s","product":"%s","account":"Bench Account %d"}',
    thread_no or 0, n, products[math.random(#products)], t1, math.random(1, 5), regions[math.random(#regions)],
    math.random(5, 30), math.random(3, 60), regions[math.random(#regions)], tagjson,
    regions[math.random(#regions)], products[math.random(#products)], math.random(1, 500))
  return wrk.format("POST", "/v1/threads", nil, body)
end
