--[[
  Places a reservation (a requester's bid for RU in a forward window, holding its most value in
  escrow) or an offer (a provider's, locking its collateral), while the window still takes orders.
  Input:
    KEYS[1] window
    KEYS[2] window orders
    KEYS[3] order
    ARGV[1] order id
    ARGV[2] side: bid | ask
    ARGV[3] account (a requester's owner id, or a worker id)
    ARGV[4] window start (ms)
    ARGV[5] units (book units of 10^3 rays)
    ARGV[6] limit (ticks per RU)
    ARGV[7] µc to lock: a bid's escrow, an offer's collateral
    ARGV[8] now (ms)
    ARGV[9] the window's gate (ms): orders close then, by Redis' clock, whatever the caller's says
  Output:
    'ok', 'closed' (the window's gate has passed, or it has cleared), or 'funds' (the balance
    cannot cover it)
]]
-- @include ledger
local id, side, account, amount, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[7]), tonumber(ARGV[8])
local clock = redis.call('TIME')
if tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) >= tonumber(ARGV[9]) then return 'closed' end
if (redis.call('HGET', KEYS[1], 'state') or 'open') ~= 'open' then return 'closed' end
if available(account, 'balance') < amount then return 'funds' end
local field = 'held'
if side == 'ask' then field = 'collateral' end
if amount > 0 then
  adjust(account, 'balance', 0 - amount, 'forward-' .. side, id, now)
  adjust(account, field, amount, 'forward-' .. side, id, now)
end
redis.call('HSET', KEYS[3], 'id', id, 'side', side, 'account', account, 'window', ARGV[4], 'units', ARGV[5],
  'limit', ARGV[6], 'locked', amount, 'filled', 0, 'state', 'open', 'placedAt', now)
redis.call('ZADD', KEYS[2], now, id)
redis.call('ZADD', K.ordersOf(account), now, id)
redis.call('HSET', KEYS[1], 'state', 'open')
redis.call('ZADD', K.forwardsAll, tonumber(ARGV[4]), ARGV[4])
return 'ok'
