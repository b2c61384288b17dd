-- @include ledger
--[[
  Escrow, as two-phase holds (pending → post → void). Credits held for work sit in a pot, part of
  its owner's `held`: a job's `escrow` (held at submission), or a buyer's prepaid share of a
  forward window (`fpot:<window>:<owner>`, held when the window cleared). Binding a replica
  commits the most its tile can cost at the price it trades at (the replica's `commit`, summed in
  the pot's `committed`); its verdict posts what it really cost (RU × price) to its worker, less
  the operator's fee to the treasury, and voids the rest of the commitment. A pot that is closed
  (its job ended, its window settled) keeps only what still backs replicas out: the rest goes back
  to the owner at once, and each commitment as it is voided. Replicas the farm owes rather than a
  requester (spot checks; a trusted worker's render of a reopened tile, the requester having paid
  for it once; a trusted worker's audit that stocks known answers) are paid by the treasury as far
  as it is funded, and commit nothing.
  A replica names its payer ('job' | 'forward' | 'treasury'), its pot (a job id, or
  `<window>:<owner>`) and its job, whose `spent`, `fees` and `raysPaid` count what it cost,
  whichever pot paid.
]]
-- x × y ÷ 10^6 (rays × ticks → µc; µc × ppm → µc), rounded down or up, exactly while x < 10^14
-- and y ≤ 10^9: x splits into whole millions and the rest, so no product passes 2^53.
local function mulDiv(x, y, up)
  local millions = math.floor(x / 1000000)
  local rest = (x - millions * 1000000) * y / 1000000
  if up then rest = math.ceil(rest) else rest = math.floor(rest) end
  return millions * y + rest
end
-- What is still committed to replica r (µc; a decimal string in the record, as cjson keeps 14 digits).
local function commitOf(r) return tonumber(r.commit or '0') or 0 end
local function potKey(payer, pot)
  if payer == 'forward' then return K.forwardPot(pot) end
  return K.job(pot)
end
local function potClosed(payer, key)
  if payer == 'forward' then return redis.call('HEXISTS', key, 'settled') == 1 end
  local state = redis.call('HGET', key, 'state')
  return state ~= 'queued' and state ~= 'running'
end
-- Moves what a closed pot no longer backs back to its owner (out of a job's budget: what its
-- owner has in it).
local function refundUnused(payer, pot, now)
  local key = potKey(payer, pot)
  local p = redis.call('HMGET', key, 'escrow', 'committed', 'owner')
  local unused = tonumber(p[1] or '0') - tonumber(p[2] or '0')
  if unused <= 0 then return end
  redis.call('HINCRBY', key, 'escrow', 0 - unused)
  if payer ~= 'forward' and redis.call('HEXISTS', key, 'budget') == 1 then redis.call('HINCRBY', key, 'budget', 0 - unused) end
  adjust(p[3], 'held', 0 - unused, 'refund', pot, now)
  adjust(p[3], 'balance', unused, 'refund', pot, now)
end
-- Moves `amount` of the owner's balance into the job's escrow, and adds it to the job's budget:
-- what its owner has in it, held or paid out of its escrow (job-budget.lua raises it; a refund of
-- what a closed job no longer needs lowers it). Replicas a forward window's pot paid are not in it.
local function fundEscrow(jobId, owner, amount, now)
  local key = K.job(jobId)
  redis.call('HINCRBY', key, 'escrow', amount)
  redis.call('HINCRBY', key, 'budget', amount)
  if amount <= 0 then return end
  adjust(owner, 'balance', 0 - amount, 'escrow', jobId, now)
  adjust(owner, 'held', amount, 'escrow', jobId, now)
end
local function holdEscrow(jobId, owner, amount, now)
  redis.call('HSET', K.job(jobId), 'escrow', 0, 'budget', 0, 'committed', 0, 'spent', 0, 'fees', 0, 'raysPaid', 0)
  fundEscrow(jobId, owner, amount, now)
end
-- Whether the pot's escrow not yet committed covers `amount`.
local function covers(key, amount)
  local p = redis.call('HMGET', key, 'escrow', 'committed')
  return tonumber(p[1] or '0') - tonumber(p[2] or '0') >= amount
end
-- Voids what is left of replica r's commitment (the caller stores the record).
local function void(r, now)
  local commit = commitOf(r)
  if commit <= 0 then return end
  local key = potKey(r.payer, r.pot)
  redis.call('HINCRBY', key, 'committed', 0 - commit)
  r.commit = '0'
  if potClosed(r.payer, key) then refundUnused(r.payer, r.pot, now) end
end
-- Pays valid replica r its rays at its price, less the fee (`feePpm` parts per million) to the
-- treasury, whoever pays: a worker's earnings look the same for a spot check or an arbiter's
-- render (the treasury pays) as for a requester's tile. A forward replica also counts as
-- delivered. The caller stores the record.
local function pay(r, now, feePpm)
  local rays = r.rays or 0
  local amount = mulDiv(rays, r.price or 0, false)
  if r.payer == 'job' or r.payer == 'forward' then
    amount = math.min(amount, commitOf(r))
    local key = potKey(r.payer, r.pot)
    redis.call('HINCRBY', key, 'escrow', 0 - amount)
    local job = K.job(r.job)
    redis.call('HINCRBY', job, 'spent', amount)
    redis.call('HINCRBY', job, 'raysPaid', rays)
    if r.payer == 'forward' then
      redis.call('HINCRBY', key, 'received', rays)
      redis.call('HINCRBY', K.forwardDelivered(string.match(r.pot, '^(%d+):')), r.worker, rays)
    end
    if amount > 0 then adjust(redis.call('HGET', key, 'owner'), 'held', 0 - amount, 'paid', r.rid, now) end
  else
    amount = math.min(amount, available('treasury', 'balance'))
    if amount > 0 then adjust('treasury', 'balance', 0 - amount, 'paid', r.rid, now) end
  end
  -- The work a worker's earnings are for, counted alike for every kind of replica.
  redis.call('HINCRBY', K.worker(r.worker), 'raysPaid', rays)
  local fee = mulDiv(amount, feePpm, false)
  if r.payer == 'job' or r.payer == 'forward' then redis.call('HINCRBY', K.job(r.job), 'fees', fee) end
  if amount - fee > 0 then
    adjust(r.worker, 'balance', amount - fee, 'earned', r.rid, now)
    redis.call('HINCRBY', K.worker(r.worker), 'earned', amount - fee)
  end
  if fee > 0 then adjust('treasury', 'balance', fee, 'fee', r.rid, now) end
  r.paid, r.fee = money(amount), money(fee)
  void(r, now)
end
-- Takes back what replica r was paid once ground truth finds it wrong after its verdict paid it
-- (a caught worker's tile reopened by backtracking, an accepted result a trusted arbiter
-- contradicts): its earnings from its worker's balance, and the fee from the treasury, into the
-- pot that paid it. The slash is the liar's penalty, paid to whoever caught it, and is taken
-- first; this is the requester's restitution, so that it pays for neither the wrong tile nor, out
-- of its own pocket, the tile's render again — as far as its worker's balance still holds what it
-- earned. Not from its stake: a requester colluding with its keys had their clawbacks empty their
-- stakes into its own job's escrow ahead of the slash (an attacker's review: two caught keys
-- slashed nothing). Once per replica; the caller stores the record. A replica paid by a release
-- that kept no fee on it is left as it is.
local function clawBack(r, now)
  local paid = tonumber(r.paid or '0')
  if paid <= 0 or r.clawedBack or not r.fee then return end
  local fee = math.min(tonumber(r.fee), paid)
  local fromWorker = math.min(paid - fee, available(r.worker, 'balance'))
  if fromWorker > 0 then adjust(r.worker, 'balance', 0 - fromWorker, 'clawback', r.rid, now) end
  -- The treasury paid it: its fee stayed there.
  local feeBack = 0
  if r.payer ~= 'treasury' then feeBack = math.min(fee, available('treasury', 'balance')) end
  if feeBack > 0 then adjust('treasury', 'balance', 0 - feeBack, 'clawback', r.rid, now) end
  local back = fromWorker + feeBack
  r.clawedBack = money(back)
  if back <= 0 then return end
  if fromWorker > 0 then
    redis.call('HINCRBY', K.worker(r.worker), 'earned', 0 - fromWorker)
    local repaid = math.floor((r.rays or 0) * fromWorker / (paid - fee))
    if repaid > 0 then redis.call('HINCRBY', K.worker(r.worker), 'raysPaid', 0 - repaid) end
  end
  if r.payer == 'treasury' then
    adjust('treasury', 'balance', back, 'clawback', r.rid, now)
    return
  end
  local key = potKey(r.payer, r.pot)
  redis.call('HINCRBY', key, 'escrow', back)
  local job = K.job(r.job)
  redis.call('HINCRBY', job, 'spent', 0 - back)
  if feeBack > 0 then redis.call('HINCRBY', job, 'fees', 0 - feeBack) end
  local refunded = math.floor((r.rays or 0) * back / paid)
  if refunded > 0 then redis.call('HINCRBY', job, 'raysPaid', 0 - refunded) end
  adjust(redis.call('HGET', key, 'owner'), 'held', back, 'clawback', r.rid, now)
  if potClosed(r.payer, key) then refundUnused(r.payer, r.pot, now) end
end
