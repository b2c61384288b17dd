--[[
  Ledger operations from the API: an operator's grant, a worker's deposit into stake, a request to
  unbond stake (paid out after a delay, still slashable until then), and the payout when due.
  Input:
    KEYS[1] account hash
    ARGV[1] operation: grant | deposit | unbond | payout
    ARGV[2] account (worker id or 'treasury')
    ARGV[3] amount (µc; payout: ignored)
    ARGV[4] ledger reference
    ARGV[5] now (ms)
    ARGV[6] unbonding delay (ms)
  Output:
    'ok', or why not
]]
-- @include ledger
local op, account, amount, ref, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
if account ~= 'treasury' and redis.call('EXISTS', KEYS[1]) == 0 then return 'unknown account' end
if op == 'grant' then
  adjust(account, 'balance', amount, 'grant', ref, now)
elseif op == 'deposit' then
  if available(account, 'balance') < amount then return 'balance too low' end
  adjust(account, 'balance', -amount, 'deposit', ref, now)
  adjust(account, 'stake', amount, 'deposit', ref, now)
elseif op == 'unbond' then
  if freeStake(account) < amount then return 'stake not free: it backs replicas or is already unbonding' end
  local at = now + tonumber(ARGV[6])
  redis.call('HINCRBY', KEYS[1], 'unbonding', amount)
  redis.call('HSET', KEYS[1], 'unbondAt', at)
  redis.call('ZADD', K.unbonding, at, account)
elseif op == 'payout' then
  if tonumber(redis.call('HGET', KEYS[1], 'unbondAt') or '0') > now then return 'not due' end
  local due = math.min(available(account, 'unbonding'), available(account, 'stake') - available(account, 'locked'))
  redis.call('HSET', KEYS[1], 'unbonding', 0)
  redis.call('ZREM', K.unbonding, account)
  if due > 0 then
    adjust(account, 'stake', -due, 'withdraw', ref, now)
    adjust(account, 'balance', due, 'withdraw', ref, now)
  end
end
return 'ok'
