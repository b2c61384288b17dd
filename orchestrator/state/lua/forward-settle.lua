--[[
  Settles a forward window after it ended, once (market/forwards.ts settleWindow): each provider
  forfeits collateral for what it sold and neither delivered nor was excused from, which the
  buyers share; the rest of its collateral comes back; an uneven split's remainder goes to the
  treasury. Then each buyer's prepaid share closes: what replicas out do not back comes back at
  once, the rest as they resolve (includes/escrow.lua).
  Input:
    KEYS[1] window
    ARGV[1] window start (ms)
    ARGV[2] settlement JSON: {providers: [{worker, forfeit, returned}], buyers: [{owner, compensation}], remainder}
    ARGV[3] now (ms)
  Output:
    1 when settled, 0 when it was not cleared or already settled; an error when the settlement does not balance
]]
-- @include escrow
if redis.call('HGET', KEYS[1], 'state') ~= 'cleared' then return 0 end
local window, s, now = ARGV[1], cjson.decode(ARGV[2]), tonumber(ARGV[3])
local forfeits, paid = 0, s.remainder
for _, p in ipairs(s.providers) do forfeits = forfeits + p.forfeit end
for _, b in ipairs(s.buyers) do paid = paid + b.compensation end
if forfeits ~= paid then return redis.error_reply('unbalanced settlement') end
for _, p in ipairs(s.providers) do
  if p.forfeit > 0 then adjust(p.worker, 'collateral', 0 - p.forfeit, 'shortfall', window, now) end
  if p.returned > 0 then
    adjust(p.worker, 'collateral', 0 - p.returned, 'collateral-returned', window, now)
    adjust(p.worker, 'balance', p.returned, 'collateral-returned', window, now)
  end
end
for _, b in ipairs(s.buyers) do adjust(b.owner, 'balance', b.compensation, 'compensation', window, now) end
if s.remainder > 0 then adjust('treasury', 'balance', s.remainder, 'shortfall-remainder', window, now) end
redis.call('DEL', K.forwardCollateral(window))
redis.call('HSET', KEYS[1], 'state', 'settled', 'settledAt', now)
redis.call('ZREM', K.forwardsAll, window)
for _, owner in ipairs(redis.call('SMEMBERS', K.forwardBuyers(window))) do
  local pot = window .. ':' .. owner
  redis.call('HSET', K.forwardPot(pot), 'settled', now)
  refundUnused('forward', pot, now)
end
return 1
