-- @include ledger
--[[
  Escrow, as two-phase holds (pending → post → void). Submitting a job moves credits from its
  owner's balance to `held`, as the job's `escrow`. Binding a replica commits the most its tile
  can cost at the price it trades at (the replica's `commit`, summed in the job's `committed`);
  its verdict posts what it really cost (RU × price, `spent`) to its worker, less the operator's
  fee (`fees`) to the treasury, and voids the rest of the commitment. An ended job keeps only what
  still backs replicas out: the rest goes back to the owner at once, and each commitment as it
  is voided. Replicas the farm owes rather than the job (spot checks, re-renders of tiles that
  backtracking reopened: the requester already paid for those once) are paid by the treasury as
  far as it is funded, and commit nothing.
]]
-- x × y ÷ 10^6 (rays × ticks → µc; µc × ppm → µc), rounded down or up, exactly while x < 10^14
-- and y ≤ 10^9: x splits into whole millions and the rest, so no product passes 2^53.
local function mulDiv(x, y, up)
  local millions = math.floor(x / 1000000)
  local rest = (x - millions * 1000000) * y / 1000000
  if up then rest = math.ceil(rest) else rest = math.floor(rest) end
  return millions * y + rest
end
local function jobEnded(jobId)
  local state = redis.call('HGET', K.job(jobId), 'state')
  return state ~= 'queued' and state ~= 'running'
end
-- Moves what an ended job's escrow no longer backs back to its owner.
local function refundUnused(jobId, now)
  local j = redis.call('HMGET', K.job(jobId), 'escrow', 'committed', 'owner')
  local unused = tonumber(j[1] or '0') - tonumber(j[2] or '0')
  if unused <= 0 then return end
  redis.call('HINCRBY', K.job(jobId), 'escrow', 0 - unused)
  adjust(j[3], 'held', 0 - unused, 'refund', jobId, now)
  adjust(j[3], 'balance', unused, 'refund', jobId, now)
end
local function holdEscrow(jobId, owner, amount, now)
  redis.call('HSET', K.job(jobId), 'escrow', amount, 'committed', 0, 'spent', 0, 'fees', 0, 'raysPaid', 0)
  if amount <= 0 then return end
  adjust(owner, 'balance', 0 - amount, 'escrow', jobId, now)
  adjust(owner, 'held', amount, 'escrow', jobId, now)
end
-- Whether the job's escrow not yet committed covers `amount`.
local function covers(jobId, amount)
  local j = redis.call('HMGET', K.job(jobId), 'escrow', 'committed')
  return tonumber(j[1] or '0') - tonumber(j[2] or '0') >= amount
end
-- Voids what is left of replica r's commitment (the caller stores the record).
local function void(r, now)
  if not r.commit or r.commit <= 0 then return end
  redis.call('HINCRBY', K.job(r.job), 'committed', 0 - r.commit)
  r.commit = 0
  if jobEnded(r.job) then refundUnused(r.job, now) end
end
-- Pays valid replica r its rays at its price, less the fee (`feePpm` parts per million) when a
-- job pays; the caller stores the record.
local function pay(r, now, feePpm)
  local amount = mulDiv(r.rays or 0, r.price or 0, false)
  local fee = 0
  if r.payer == 'job' then
    amount = math.min(amount, r.commit or 0)
    fee = mulDiv(amount, feePpm, false)
    local jk = K.job(r.job)
    redis.call('HINCRBY', jk, 'escrow', 0 - amount)
    redis.call('HINCRBY', jk, 'spent', amount)
    redis.call('HINCRBY', jk, 'raysPaid', r.rays or 0)
    redis.call('HINCRBY', jk, 'fees', fee)
    if amount > 0 then adjust(redis.call('HGET', jk, 'owner'), 'held', 0 - amount, 'paid', r.rid, now) end
  else
    amount = math.min(amount, available('treasury', 'balance'))
    if amount > 0 then adjust('treasury', 'balance', 0 - amount, 'paid', r.rid, now) end
  end
  if amount - fee > 0 then adjust(r.worker, 'balance', amount - fee, 'earned', r.rid, now) end
  if fee > 0 then adjust('treasury', 'balance', fee, 'fee', r.rid, now) end
  r.paid = amount
  void(r, now)
end
