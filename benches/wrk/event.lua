-- POST /api/event as the tracker sends it (text/plain JSON), with varied pages,
-- user agents and client addresses: WRK_REQUESTS (4096) of them built once
-- per wrk thread, in `init`, and sent in turn (see pixel.lua for why).
local uas = {
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
}
local names = { "pageview", "pageview", "pageview", "book_tour", "signup", "download_brochure" }

local count = tonumber(os.getenv("WRK_REQUESTS") or "") or 4096
local requests = {}
local next_request = 0

function setup(thread)
  thread:set("seed", math.random(1, 1e9))
end

function init(args)
  math.randomseed(seed or os.time())
  for i = 1, count do
    local body = string.format(
      '{"site":"optimumabq.com","url":"https://optimumabq.com/blog/post-%d","ref":"https://www.google.com/","name":"%s","w":%d}',
      math.random(1, 300), names[math.random(#names)], ({ 390, 768, 1440, 1920 })[math.random(4)])
    -- One in four from 81.2.69.0/24, which the GeoIP database load.sh
    -- loads places in London: those lookups find and decode a record.
    local ip = math.random(4) == 1 and ("81.2.69." .. math.random(1, 254))
      or (math.random(1, 223) .. "." .. math.random(0, 255) .. "." .. math.random(0, 255) .. "." .. math.random(1, 254))
    requests[i] = wrk.format("POST", "/api/event", {
      ["Content-Type"] = "text/plain;charset=UTF-8",
      ["User-Agent"] = uas[math.random(#uas)],
      ["X-Forwarded-For"] = ip,
    }, body)
  end
end

request = function()
  next_request = next_request % count + 1
  return requests[next_request]
end
