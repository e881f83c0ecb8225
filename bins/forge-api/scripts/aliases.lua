-- wrk script: GET a random branch alias main-1 .. main-N of acme/shop/web.
local n = tonumber(os.getenv("FORGE_BENCH_RELEASES") or "10000")
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/v1/releases/acme/shop/web/main-" .. math.random(1, n))
end
