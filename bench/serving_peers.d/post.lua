-- wrk script for bench/serving_peers: POSTs the JSON file named by WRK_BODY, with the
-- Authorization header WRK_AUTH when that is set (Falaj's admin key; the peers take none).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("WRK_AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end
local f = assert(io.open(os.getenv("WRK_BODY"), "r"))
wrk.body = f:read("*a")
f:close()
