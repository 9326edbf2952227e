-- wrk: grant_type=refresh_token where every request presents a refresh token not used before.
-- Mandate rotates a refresh token on every use and refuses (then, after a grace period, ends
-- the family of) one presented again (RFC 9700 §4.14.2), so the replayed body the reference
-- harness sends cannot measure it. Each answer's new refresh token goes back into the pool.
-- Run with one thread (-t1). env: WRK_DIR, BASIC_AUTH (base64 "id:secret"),
-- REFRESH_TOKENS (a file of tokens, one per line; rewritten at the end with the live ones, so
-- a warm-up run can precede the measured one).
package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
require "common"

local file = os.getenv("REFRESH_TOKENS")
local threads = {}
pool = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(file) do
    if line ~= "" then pool[#pool + 1] = line end
  end
end

local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Authorization"] = "Basic " .. (os.getenv("BASIC_AUTH") or ""),
}

function request()
  -- An empty pool sends no token: the server answers 400, which wrk counts as an error.
  local token = table.remove(pool) or ""
  return wrk.format("POST", nil, headers, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  local token = body:match('"refresh_token":"([^"]+)"')
  if token then pool[#pool + 1] = token end
end

function done(summary, latency, requests)
  local out = io.open(file, "w")
  for _, thread in ipairs(threads) do
    for _, token in ipairs(thread:get("pool")) do out:write(token, "\n") end
  end
  out:close()
  wrk_done(summary, latency, requests)
end
