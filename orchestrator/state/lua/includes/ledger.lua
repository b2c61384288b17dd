--[[
  Credits, in integer micro-credits (µc, shared/money.ts). A worker account keeps `balance`,
  `stake`, `locked` (stake backing replicas it holds or awaits verdicts on), `unbonding` (stake
  asked back, paid out after a delay) and `collateral` (backing forward capacity it offered or
  sold) in its hash; a requester account (its token's owner id)
  keeps `balance` and `held` (its jobs' escrow, includes/escrow.lua); the treasury (operator
  grants, fees, what the farm pays for) keeps `balance`. Every move appends an entry to the
  account's ledger list in the same script, so no balance moves without its entry and none goes
  negative. Amounts in entries are decimal strings: cjson writes numbers with 14 digits at most.
]]
local REQUESTER_ID = '^' .. string.rep('%x', 16) .. '$'
local function accountKey(account)
  if account == 'treasury' then return K.treasury end
  if string.match(account, REQUESTER_ID) then return K.owner(account) end
  return K.worker(account)
end
local function available(account, field)
  return tonumber(redis.call('HGET', accountKey(account), field) or '0')
end
local function money(amount) return string.format('%d', amount) end
-- Moves `amount` into (or, negative, out of) one field of the account: `balance`, or `stake`,
-- `held` or `collateral`, which the entry names as `to`.
local function adjust(account, field, amount, kind, ref, now)
  local key = accountKey(account)
  redis.call('HINCRBY', key, field, amount)
  local after = redis.call('HMGET', key, 'balance', 'stake', 'held', 'collateral')
  local entry = {at = now, kind = kind, amount = money(amount), ref = ref, balance = money(tonumber(after[1] or '0')),
    stake = money(tonumber(after[2] or '0'))}
  if after[3] then entry.held = money(tonumber(after[3])) end
  if after[4] then entry.collateral = money(tonumber(after[4])) end
  if field ~= 'balance' then entry.to = field end
  redis.call('RPUSH', K.ledger(account), cjson.encode(entry))
end
-- Stake a worker may still commit: not backing replicas and not asked back.
local function freeStake(worker)
  return available(worker, 'stake') - available(worker, 'locked') - available(worker, 'unbonding')
end
-- Whether an untrusted worker's stake may back one more replica: enough of it free, and the
-- identity's minimum staked.
local function canBack(worker, perReplica, minimum)
  return freeStake(worker) >= perReplica and available(worker, 'stake') >= minimum
end
local function lockStake(worker, amount)
  if amount > 0 then redis.call('HINCRBY', K.worker(worker), 'locked', amount) end
end
local function unlockStake(worker, amount)
  if not amount or amount <= 0 then return end
  if redis.call('HINCRBY', K.worker(worker), 'locked', -amount) < 0 then redis.call('HSET', K.worker(worker), 'locked', 0) end
end
-- What was asked back can never exceed the stake left after a slash or penalty.
local function clampUnbonding(worker)
  local stake = available(worker, 'stake')
  if available(worker, 'unbonding') > stake then redis.call('HSET', K.worker(worker), 'unbonding', stake) end
end
-- Takes a share of a caught worker's whole stake (unbonding stake included) and splits it among
-- the beneficiaries; the remainder of an uneven split (or all of it, with none) goes to the treasury.
local function slash(worker, share, beneficiaries, ref, now)
  local taken = math.floor(available(worker, 'stake') * share)
  if taken <= 0 then return end
  adjust(worker, 'stake', -taken, 'slashed', ref, now)
  clampUnbonding(worker)
  local each = 0
  if #beneficiaries > 0 then each = math.floor(taken / #beneficiaries) end
  for _, b in ipairs(beneficiaries) do adjust(b, 'balance', each, 'slash-share', ref, now) end
  local rest = taken - each * #beneficiaries
  if rest > 0 then adjust('treasury', 'balance', rest, 'slash-remainder', ref, now) end
end
-- A fixed penalty, from stake first and then balance, paid to the treasury.
local function penalize(worker, amount, ref, now)
  local fromStake = math.min(amount, available(worker, 'stake'))
  local fromBalance = math.min(amount - fromStake, available(worker, 'balance'))
  if fromStake > 0 then adjust(worker, 'stake', -fromStake, 'penalty', ref, now) clampUnbonding(worker) end
  if fromBalance > 0 then adjust(worker, 'balance', -fromBalance, 'penalty', ref, now) end
  if fromStake + fromBalance > 0 then adjust('treasury', 'balance', fromStake + fromBalance, 'penalty-received', ref, now) end
end
