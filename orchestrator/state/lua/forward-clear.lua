--[[
  Applies a forward window's clearing (market/forward-duty.ts: the spot market's auction on the
  window's orders), once. Each bid keeps its filled units' value at the price as the buyer's
  prepaid share of the window (escrow: includes/escrow.lua) and gets the rest of its escrow back;
  each offer keeps the collateral share of its filled units' value, and at least the filled share
  of what it locked (at most all of it), owes the filled rays, and gets the rest back. An order
  the clearing did not see (placed after the book was read) is unfilled, and so is every order of
  a window cleared once it has begun (every orchestrator was down at its gate): nobody could
  deliver what it was not told it sold.
  Input:
    KEYS[1] window
    KEYS[2] window orders
    ARGV[1] window start (ms)
    ARGV[2] price (ticks per RU), or '' when nothing crossed
    ARGV[3] volume (units)
    ARGV[4] fills JSON: order id → units
    ARGV[5] now (ms)
    ARGV[6] collateral share (parts per million)
    ARGV[7] rays per unit
  Output:
    1 when applied, 0 when the window had already cleared or an order it fills was withdrawn
    after the book was read (forward-withdraw.lua: the next clearing reads it again)
]]
-- @include escrow
if (redis.call('HGET', KEYS[1], 'state') or 'open') ~= 'open' then return 0 end
local window, price, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[5])
if now >= tonumber(window) then price = nil end
local fills, ppm, raysPerUnit = cjson.decode(ARGV[4]), tonumber(ARGV[6]), tonumber(ARGV[7])
-- Its units were matched against others': filling the rest would sell what nobody owes or buys.
for id in pairs(fills) do
  if redis.call('HGET', K.order(id), 'state') == 'withdrawn' then return 0 end
end
local function giveBack(account, field, amount, ref)
  if amount <= 0 then return end
  adjust(account, field, 0 - amount, 'forward-unfilled', ref, now)
  adjust(account, 'balance', amount, 'forward-unfilled', ref, now)
end
local bids, asks = 0, 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local o = redis.call('HMGET', K.order(id), 'side', 'account', 'locked', 'units')
  local locked = tonumber(o[3])
  local filled = 0
  if price then filled = tonumber(fills[id] or 0) end
  local rays = filled * raysPerUnit
  if o[1] == 'bid' then
    bids = bids + 1
    local prepaid = 0
    if filled > 0 then prepaid = math.min(locked, mulDiv(rays, price, false)) end
    giveBack(o[2], 'held', locked - prepaid, id)
    if filled > 0 then
      local pot = K.forwardPot(window .. ':' .. o[2])
      redis.call('HSET', pot, 'owner', o[2])
      redis.call('HINCRBY', pot, 'escrow', prepaid)
      redis.call('HINCRBY', pot, 'entitled', rays)
      redis.call('SADD', K.forwardBuyers(window), o[2])
    end
  else
    asks = asks + 1
    local kept = 0
    -- An offer locked at the price that traded where its own was lower (http/forwards.ts): what it
    -- sold stays behind that, or an offer at a tick that set the window's price would risk nothing
    -- for what it sold (an attacker's review: 3 µc kept of 2,573).
    if filled > 0 then
      local atPrice = mulDiv(mulDiv(rays, price, true), ppm, true)
      kept = math.min(locked, math.max(atPrice, math.ceil(locked / tonumber(o[4]) * filled)))
    end
    giveBack(o[2], 'collateral', locked - kept, id)
    if filled > 0 then
      redis.call('HINCRBY', K.forwardOwed(window), o[2], rays)
      redis.call('HINCRBY', K.forwardCollateral(window), o[2], kept)
    end
  end
  local state = 'unfilled'
  if filled > 0 then state = 'filled' end
  redis.call('HSET', K.order(id), 'filled', filled, 'state', state)
end
local volume = ARGV[3]
if not price then volume = 0 end
redis.call('HSET', KEYS[1], 'state', 'cleared', 'price', price or '', 'volume', volume, 'bids', bids, 'asks', asks,
  'clearedAt', now)
return 1
