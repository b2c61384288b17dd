--[[
  Withdraws an order its account placed, while its window still takes orders: it leaves the
  window's book, and what it locked (a reservation's escrow, an offer's collateral) goes back to
  the balance. A clearing that read the book before the withdrawal is refused (forward-clear.lua),
  and the next one reads it again.
  Input:
    KEYS[1] window
    KEYS[2] window orders
    KEYS[3] order
    ARGV[1] order id
    ARGV[2] account
    ARGV[3] now (ms)
    ARGV[4] the window's gate (ms): by Redis' clock, as forward-order.lua closes it
  Output:
    'ok', 'unknown' (no such order of this account) or 'closed' (its window's gate has passed,
    or it has cleared, or the order was withdrawn already)
]]
-- @include ledger
local o = redis.call('HMGET', KEYS[3], 'account', 'side', 'locked', 'state')
if o[1] ~= ARGV[2] then return 'unknown' end
local clock = redis.call('TIME')
if tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) >= tonumber(ARGV[4]) then return 'closed' end
if (redis.call('HGET', KEYS[1], 'state') or 'open') ~= 'open' or o[4] ~= 'open' then return 'closed' end
local now, locked = tonumber(ARGV[3]), tonumber(o[3])
local field = 'held'
if o[2] == 'ask' then field = 'collateral' end
if locked > 0 then
  adjust(ARGV[2], field, 0 - locked, 'forward-withdrawn', ARGV[1], now)
  adjust(ARGV[2], 'balance', locked, 'forward-withdrawn', ARGV[1], now)
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], 'state', 'withdrawn', 'withdrawnAt', now)
return 'ok'
