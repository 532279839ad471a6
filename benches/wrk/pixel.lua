-- GET /p.gif with varied, realistic hits: 12 user agents, 300 paths with a
-- long tail, long-tailed referrers, campaign parameters on some, a random
-- client address in X-Forwarded-For (the collector trusts loopback as proxy).
-- Each wrk thread builds WRK_REQUESTS (4096) such requests once, in `init`,
-- and sends them in turn: formatting each request as it is sent (random
-- picks, URL-encoding) held one wrk thread to about half of what the bare
-- server answers (issue 24), and a load generator that is the bottleneck
-- flatters whatever it drives. benches/load.sh checks that the bare server
-- answers this script at 90% or more of its rate with one fixed request.
-- WRK_DELAY_MS=N makes each connection wait N ms on average between requests
-- (fixed rate); the wait is drawn uniformly from 0..2N so that connections do
-- not fire in lockstep bursts.
local uas = {
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 Edg/119.0.0.0",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
  "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0",
  "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
}
local referrers = {
  "", "", "", "", "https://www.google.com/", "https://www.google.com/", "https://www.google.com/search?q=coworking+albuquerque",
  "https://duckduckgo.com/", "https://www.bing.com/", "https://news.ycombinator.com/item?id=1",
  "https://optimumabq.com/", "https://www.facebook.com/", "https://t.co/abc", "https://www.linkedin.com/",
}
for i = 1, 40 do referrers[#referrers + 1] = "https://blog" .. i .. ".example.org/post/" .. i end
local campaigns = { "", "", "", "", "", "?utm_source=newsletter&utm_medium=email&utm_campaign=nov",
  "?utm_source=google&utm_medium=cpc&utm_campaign=desks", "?utm_source=facebook&utm_medium=social" }
local paths = { "/", "/", "/", "/pricing", "/pricing", "/tour", "/membership", "/events", "/contact", "/about" }
for i = 1, 290 do paths[#paths + 1] = "/blog/post-" .. i end

local function pick(list)
  return list[math.random(#list)]
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "")
local count = tonumber(os.getenv("WRK_REQUESTS") or "") or 4096
local requests = {}
local next_request = 0

function setup(thread)
  thread:set("seed", math.random(1, 1e9))
end

function init(args)
  math.randomseed(seed or os.time())
  for i = 1, count do
    local page = "https://optimumabq.com" .. pick(paths) .. pick(campaigns)
    local path = "/p.gif?site=optimumabq.com&url=" .. urlencode(page) .. "&ref=" .. urlencode(pick(referrers))
    -- One in four from 81.2.69.0/24, which the GeoIP database load.sh
    -- loads places in London: those lookups find and decode a record.
    local ip = math.random(4) == 1 and ("81.2.69." .. math.random(1, 254))
      or (math.random(1, 223) .. "." .. math.random(0, 255) .. "." .. math.random(0, 255) .. "." .. math.random(1, 254))
    requests[i] = wrk.format("GET", path, { ["User-Agent"] = pick(uas), ["X-Forwarded-For"] = ip })
  end
end

-- Defined only when asked for: wrk calls it before every request otherwise.
if delay_ms then
  function delay()
    return math.random(0, 2 * delay_ms)
  end
end

request = function()
  next_request = next_request % count + 1
  return requests[next_request]
end
