/**
 * Lua scripts for the transitions that must be atomic in Redis. Replica records live in the hash
 * `farm:task:<id>:replicas` (field = slot number, value = JSON) so one script sees a whole task.
 * Judging stays in TypeScript (orchestrator/verifier.ts); `settle` applies a verdict only if the
 * task's version is the one it was judged on, so concurrent submissions cannot both win.
 */

/**
 * Credits, in integer cents. A worker account keeps `balance` and `stake` in its hash; the farm's
 * treasury (funded by operator grants, paying rewards) keeps `balance` in `farm:treasury`. Every
 * change appends an entry to `farm:ledger:<account>` in the same script, so no balance moves
 * without its entry and none goes negative. Included at the top of the scripts that move money.
 */
export const LEDGER_LUA = `
local function accountKey(account)
  if account == 'treasury' then return 'farm:treasury' end
  return 'farm:worker:' .. account
end
local function adjust(account, field, amount, kind, ref, now)
  local key = accountKey(account)
  local value = tonumber(redis.call('HGET', key, field) or '0') + amount
  redis.call('HSET', key, field, value)
  local entry = {at = now, kind = kind, amount = amount, ref = ref,
    balance = tonumber(redis.call('HGET', key, 'balance') or '0'), stake = tonumber(redis.call('HGET', key, 'stake') or '0')}
  if field == 'stake' then entry.to = 'stake' end
  redis.call('RPUSH', 'farm:ledger:' .. account, cjson.encode(entry))
end
local function available(account, field)
  return tonumber(redis.call('HGET', accountKey(account), field) or '0')
end
-- Pays a reward from the treasury, as far as it is funded.
local function reward(worker, amount, ref, now)
  local paid = math.min(amount, available('treasury', 'balance'))
  if paid <= 0 then return end
  adjust('treasury', 'balance', -paid, 'reward-paid', ref, now)
  adjust(worker, 'balance', paid, 'reward', ref, now)
end
-- Takes up to amount of a worker's stake and shares it among the beneficiaries; the remainder of
-- an uneven split (or all of it, with none) goes to the treasury.
local function slash(worker, amount, beneficiaries, ref, now)
  local taken = math.min(amount, available(worker, 'stake'))
  if taken <= 0 then return end
  adjust(worker, 'stake', -taken, 'slashed', ref, now)
  local share = 0
  if #beneficiaries > 0 then share = math.floor(taken / #beneficiaries) end
  for _, b in ipairs(beneficiaries) do adjust(b, 'balance', share, 'slash-share', ref, now) end
  local rest = taken - share * #beneficiaries
  if rest > 0 then adjust('treasury', 'balance', rest, 'slash-remainder', ref, now) end
end
-- A fixed penalty, from stake first and then balance, paid to the treasury.
local function penalize(worker, amount, ref, now)
  local fromStake = math.min(amount, available(worker, 'stake'))
  local fromBalance = math.min(amount - fromStake, available(worker, 'balance'))
  if fromStake > 0 then adjust(worker, 'stake', -fromStake, 'penalty', ref, now) end
  if fromBalance > 0 then adjust(worker, 'balance', -fromBalance, 'penalty', ref, now) end
  if fromStake + fromBalance > 0 then adjust('treasury', 'balance', fromStake + fromBalance, 'penalty-received', ref, now) end
end
`;

/**
 * Binds replica slot n of a task to a worker.
 * KEYS: task, task:replicas, worker, worker:active, job
 * ARGV: n, slotId, workerId, now, deadline, queueName, penalty, stakePerTask, probation
 * Returns: {status, detail} or, once bound, {status, record, frame, rect, scene}
 */
export const BIND = `${LEDGER_LUA}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing', ''} end
if redis.call('EXISTS', KEYS[3]) == 0 then return {'unknown', ''} end
local jobState = redis.call('HGET', KEYS[5], 'state')
local taskState = redis.call('HGET', KEYS[1], 'state')
if jobState ~= 'running' or taskState ~= 'pending' then return {'obsolete', ''} end
local class = redis.call('HGET', KEYS[1], 'class')
local workerClass = redis.call('HGET', KEYS[3], 'class')
if class ~= '' and class ~= workerClass then return {'wrongclass', class} end
if redis.call('SISMEMBER', KEYS[5] .. ':blacklist', ARGV[3]) == 1 then return {'ineligible', ''} end
-- Beyond its probation allowance a worker needs stake for every replica it holds.
local w = redis.call('HMGET', KEYS[3], 'valid', 'invalid', 'timedOut', 'inFlight', 'stake')
local done = tonumber(w[1] or '0') + tonumber(w[2] or '0') + tonumber(w[3] or '0')
local needed = tonumber(ARGV[8]) * (tonumber(w[4] or '0') + 1)
local trusted = redis.call('HGET', KEYS[3], 'trusted') == '1'
if not trusted and done >= tonumber(ARGV[9]) and tonumber(w[5] or '0') < needed then return {'nostake', ''} end
local existing = redis.call('HGET', KEYS[2], ARGV[1])
local previous = {}
local r
if existing then
  r = cjson.decode(existing)
  if r.state == 'assigned' and r.worker == ARGV[3] then
    return {'again', existing, redis.call('HGET', KEYS[1], 'frame'), redis.call('HGET', KEYS[1], 'rect'), redis.call('HGET', KEYS[5], 'scene')}
  end
  if r.state ~= 'assigned' and r.state ~= 'timedout' and r.state ~= 'handedback' then return {'resolved', ''} end
  previous = r.previous or {}
  r.previous = nil
end
-- One vote per worker: it may not hold or have answered another replica of this task.
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do
  local other = cjson.decode(v)
  if other.worker == ARGV[3] and other.state ~= 'timedout' and other.state ~= 'handedback' and other.replica ~= ARGV[2] then return {'ineligible', ''} end
end
if r then
  if r.state == 'assigned' then
    -- The previous holder's lease lapsed (BullMQ found the slot stalled): it timed out.
    r.state = 'timedout'
    local prev = 'farm:worker:' .. r.worker
    redis.call('HINCRBY', prev, 'timedOut', 1)
    redis.call('HINCRBY', prev, 'inFlight', -1)
    redis.call('HSET', prev, 'cv', 0)
    redis.call('SREM', prev .. ':active', ARGV[2])
    penalize(r.worker, tonumber(ARGV[7]), ARGV[2], tonumber(ARGV[4]))
  end
  table.insert(previous, r)
end
local fresh = {replica = ARGV[2], worker = ARGV[3], state = 'assigned', assignedAt = tonumber(ARGV[4]), deadline = tonumber(ARGV[5]), queue = ARGV[6]}
if #previous > 0 then fresh.previous = previous end
local record = cjson.encode(fresh)
redis.call('HSET', KEYS[2], ARGV[1], record)
if class == '' then redis.call('HSET', KEYS[1], 'class', workerClass) end
redis.call('HINCRBY', KEYS[3], 'inFlight', 1)
redis.call('SADD', KEYS[4], ARGV[2])
return {'bound', record, redis.call('HGET', KEYS[1], 'frame'), redis.call('HGET', KEYS[1], 'rect'), redis.call('HGET', KEYS[5], 'scene')}
`;

/**
 * Records a worker's result for its replica.
 * KEYS: task, task:replicas, worker, worker:active, job
 * ARGV: n, slotId, workerId, cid, now
 * Returns: {status, taskJSON, replicasJSON...}
 */
export const SUBMIT = `
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if not existing then return {'notassigned'} end
local r = cjson.decode(existing)
if r.worker ~= ARGV[3] then
  for _, p in ipairs(r.previous or {}) do
    if p.worker == ARGV[3] then return {'expired'} end
  end
  return {'notassigned'}
end
if r.state == 'timedout' or r.state == 'handedback' then return {'expired'} end
if r.state ~= 'assigned' then
  if r.cid == ARGV[4] then return {'duplicate'} end
  return {'conflict'}
end
r.state = 'submitted'
r.cid = ARGV[4]
r.submittedAt = tonumber(ARGV[5])
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(r))
if r.spot then return {'spot', redis.call('HGET', KEYS[1], 'cid')} end
redis.call('HINCRBY', KEYS[3], 'inFlight', -1)
redis.call('SREM', KEYS[4], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'outstanding', -1)
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HINCRBY', KEYS[5], 'replicasRendered', 1)
local out = {'submitted', cjson.encode(redis.call('HGETALL', KEYS[1]))}
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do table.insert(out, v) end
return out
`;

/**
 * Applies a verdict judged on task version ARGV[1].
 * KEYS: task, task:replicas, job, job:frames
 * ARGV: version, kind, cid, issue, now, message, agreeJSON, disagreeJSON, tilesPerFrame,
 *       replicated (1 when the verdict weighed two or more results), credibility, below (1 when
 *       accepted under θ after the job's timeout), reward, slash (cents), vouch (1: remember
 *       which workers a verified tile rests on, for backtracking), basis (JSON worker → fault
 *       count the credibilities were computed from: a verdict on stale credibility is 'stale')
 * Returns: {status, value, caughtJSON}: 'stale' | 'verified' (value: the frame's completion count
 *          when this verdict completes it — part of its stitch job's id — else 0) |
 *          'issued' (value = first new slot number) | 'failed' | 'late'
 *
 * Reputation moves with the verdict, atomically: a replicated agreement is a passed check (k and
 * the consecutive-valid count CV grow); a result outvoted by the accepted group is a fault (k and
 * CV reset, the worker is blacklisted for this job) and becomes evidence on both sides.
 */
export const SETTLE = `${LEDGER_LUA}
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return {'stale', 0} end
local kind = ARGV[2]
local task = string.sub(KEYS[1], 11)
local caught = {}
local function evidence(worker, entry)
  local key = 'farm:worker:' .. worker .. ':evidence'
  redis.call('LPUSH', key, cjson.encode(entry))
  redis.call('LTRIM', key, 0, 49)
end
local function mark(list, state, winner)
  local records = {}
  for _, n in ipairs(cjson.decode(list)) do
    local r = cjson.decode(redis.call('HGET', KEYS[2], n))
    if r.state == 'submitted' then
      r.state = state
      redis.call('HSET', KEYS[2], n, cjson.encode(r))
      table.insert(records, r)
    end
  end
  for _, r in ipairs(records) do
    local w = 'farm:worker:' .. r.worker
    if state == 'valid' then
      reward(r.worker, tonumber(ARGV[13]), r.replica, tonumber(ARGV[5]))
      redis.call('HINCRBY', w, 'valid', 1)
      if ARGV[10] == '1' then
        redis.call('HINCRBY', w, 'passed', 1)
        redis.call('HINCRBY', w, 'cv', 1)
      end
      if ARGV[15] == '1' then redis.call('SADD', w .. ':vouched', task) end
    else
      redis.call('HINCRBY', w, 'invalid', 1)
      redis.call('HINCRBY', w, 'faults', 1)
      redis.call('HSET', w, 'passed', 0, 'cv', 0)
      redis.call('SADD', KEYS[3] .. ':blacklist', r.worker)
      table.insert(caught, r.worker)
      evidence(r.worker, {kind = 'outvoted', task = task, at = tonumber(ARGV[5]), cid = r.cid, winner = winner})
    end
  end
  return records
end
local function settleReplicas(winner)
  local won = mark(ARGV[7], 'valid', winner)
  local lost = mark(ARGV[8], 'invalid', winner)
  if #lost > 0 then
    local losers = {}
    for _, r in ipairs(lost) do table.insert(losers, r.worker) end
    -- A wrong result loses its task's stake to the honest co-replicators.
    local honest = {}
    for _, r in ipairs(won) do table.insert(honest, r.worker) end
    for _, r in ipairs(lost) do slash(r.worker, tonumber(ARGV[14]), honest, r.replica, tonumber(ARGV[5])) end
    for _, r in ipairs(won) do
      evidence(r.worker, {kind = 'outvoted-others', task = task, at = tonumber(ARGV[5]), cid = winner, against = losers})
    end
  end
end
if kind == 'late' then
  settleReplicas(redis.call('HGET', KEYS[1], 'cid'))
  return {'late', 0, cjson.encode(caught)}
end
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return {'stale', 0} end
if kind == 'verified' then
  for worker, faults in pairs(cjson.decode(ARGV[16])) do
    if tonumber(redis.call('HGET', 'farm:worker:' .. worker, 'faults') or '0') ~= faults then return {'stale', 0} end
  end
  redis.call('HSET', KEYS[1], 'state', 'verified', 'cid', ARGV[3], 'verifiedAt', ARGV[5], 'credibility', ARGV[11], 'below', ARGV[12])
  if ARGV[12] ~= '1' then
    -- A tile verified at θ can later serve as a spot check for its determinism class.
    local pool = 'farm:spot:' .. redis.call('HGET', KEYS[1], 'class')
    redis.call('ZADD', pool, tonumber(ARGV[5]), task)
    redis.call('ZREMRANGEBYRANK', pool, 0, -1001)
  end
  settleReplicas(ARGV[3])
  redis.call('HINCRBY', KEYS[3], 'tilesVerified', 1)
  if ARGV[12] == '1' then redis.call('HINCRBY', KEYS[3], 'tilesBelowThreshold', 1) end
  local frame = redis.call('HGET', KEYS[1], 'frame')
  local done = redis.call('HINCRBY', KEYS[4], frame, 1)
  local generation = 0
  if done == tonumber(ARGV[9]) then generation = redis.call('HINCRBY', KEYS[3] .. ':framegen', frame, 1) end
  return {'verified', generation, cjson.encode(caught)}
end
if kind == 'issue' then
  local first = tonumber(redis.call('HGET', KEYS[1], 'issued'))
  redis.call('HINCRBY', KEYS[1], 'issued', tonumber(ARGV[4]))
  redis.call('HINCRBY', KEYS[1], 'outstanding', tonumber(ARGV[4]))
  redis.call('HINCRBY', KEYS[3], 'replicasIssued', tonumber(ARGV[4]))
  return {'issued', first}
end
redis.call('HSET', KEYS[1], 'state', 'failed')
if redis.call('HGET', KEYS[3], 'state') == 'running' then
  redis.call('HSET', KEYS[3], 'state', 'failed', 'error', ARGV[6], 'finishedAt', ARGV[5])
end
return {'failed', 0}
`;

/**
 * A worker hands back a replica it holds (graceful drain).
 * KEYS: task:replicas, worker, worker:active
 * ARGV: n, slotId, workerId
 */
export const RELEASE = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if not existing then return 0 end
local r = cjson.decode(existing)
if r.worker ~= ARGV[3] or r.state ~= 'assigned' then return 0 end
r.state = 'handedback'
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(r))
redis.call('HINCRBY', KEYS[2], 'inFlight', -1)
redis.call('SREM', KEYS[3], ARGV[2])
return 1
`;

/**
 * Marks a frame stitched; finishes the job when it was the last one. A stitch that lost a race
 * with backtracking (a tile reopened since, or a newer completion exists) records nothing.
 * KEYS: job, job:framecids, job:frames, job:framegen
 * ARGV: frame, cid, frameCount, now, tilesPerFrame, completion
 * Returns 1 when every frame is stitched, 0 when not yet, -1 when this stitch is stale.
 */
export const FRAME_DONE = `
if tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0') ~= tonumber(ARGV[5]) then return -1 end
if tonumber(ARGV[6]) and redis.call('HGET', KEYS[4], ARGV[1]) ~= ARGV[6] then return -1 end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then
  return redis.call('HLEN', KEYS[2]) == tonumber(ARGV[3]) and 1 or 0
end
local done = redis.call('HINCRBY', KEYS[1], 'framesDone', 1)
return done == tonumber(ARGV[3]) and 1 or 0
`;

/**
 * Backtracking: a verified tile that rested on a caught worker goes back to pending. Its frame is
 * un-stitched and a finished job runs again; the caught worker's replica turns invalid.
 * KEYS: task, task:replicas, job, job:frames, job:framecids
 * ARGV: caught worker, now
 * Returns 1 when the task was reopened.
 */
export const REOPEN = `
if redis.call('HGET', KEYS[1], 'state') ~= 'verified' then return 0 end
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local r = cjson.decode(all[i + 1])
  if r.worker == ARGV[1] and r.state == 'valid' then
    r.state = 'invalid'
    redis.call('HSET', KEYS[2], all[i], cjson.encode(r))
    redis.call('HINCRBY', 'farm:worker:' .. r.worker, 'valid', -1)
    redis.call('HINCRBY', 'farm:worker:' .. r.worker, 'invalid', 1)
  end
end
redis.call('HSET', KEYS[1], 'state', 'pending', 'cid', '', 'credibility', '', 'below', 0, 'reopened', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'version', 1)
local frame = redis.call('HGET', KEYS[1], 'frame')
redis.call('HINCRBY', KEYS[3], 'tilesVerified', -1)
redis.call('HINCRBY', KEYS[4], frame, -1)
if redis.call('HDEL', KEYS[5], frame) == 1 then redis.call('HINCRBY', KEYS[3], 'framesDone', -1) end
if redis.call('HGET', KEYS[3], 'state') == 'done' then
  redis.call('HSET', KEYS[3], 'state', 'running', 'animation', '')
  redis.call('HDEL', KEYS[3], 'finishedAt')
  redis.call('SADD', 'farm:jobs:active', string.sub(KEYS[3], 10))
end
return 1
`;

/**
 * Hands a worker a spot check: a tile of its class already verified at θ, as one more replica
 * slot that looks like any other. Nothing about the task changes but the new record.
 * KEYS: spot pool, worker
 * ARGV: workerId, now, deadline
 * Returns {taskId, slot number, frame, rect, scene} or nothing.
 */
export const SPOT = `
local task = redis.call('ZRANDMEMBER', KEYS[1])
if not task then return nil end
local tkey = 'farm:task:' .. task
if redis.call('HGET', tkey, 'state') ~= 'verified' then return nil end
local rkey = tkey .. ':replicas'
for _, v in ipairs(redis.call('HVALS', rkey)) do
  if cjson.decode(v).worker == ARGV[1] then return nil end
end
local job = redis.call('HGET', tkey, 'job')
local n = redis.call('HINCRBY', tkey, 'issued', 1) - 1
local slot = task .. '.r' .. n
redis.call('HSET', rkey, n, cjson.encode({replica = slot, worker = ARGV[1], state = 'assigned', assignedAt = tonumber(ARGV[2]), deadline = tonumber(ARGV[3]), queue = '', spot = true}))
return {task, n, redis.call('HGET', tkey, 'frame'), redis.call('HGET', tkey, 'rect'), redis.call('HGET', 'farm:job:' .. job, 'scene')}
`;

/**
 * The verdict on a spot check: a match is a passed check, a mismatch a fault (stake to the
 * treasury, reset, evidence). Runs once: the record must still be 'submitted'.
 * KEYS: task:replicas, worker
 * ARGV: n, pass (1/0), now, slash cents, task
 */
export const SPOT_VERDICT = `${LEDGER_LUA}
local r = cjson.decode(redis.call('HGET', KEYS[1], ARGV[1]))
if r.state ~= 'submitted' then return 0 end
local now = tonumber(ARGV[3])
if ARGV[2] == '1' then
  r.state = 'valid'
  redis.call('HINCRBY', KEYS[2], 'passed', 1)
  redis.call('HINCRBY', KEYS[2], 'cv', 1)
  redis.call('HINCRBY', KEYS[2], 'spotPassed', 1)
else
  r.state = 'invalid'
  redis.call('HINCRBY', KEYS[2], 'faults', 1)
  redis.call('HINCRBY', KEYS[2], 'spotFailed', 1)
  redis.call('HSET', KEYS[2], 'passed', 0, 'cv', 0)
  slash(r.worker, tonumber(ARGV[4]), {}, r.replica, now)
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(r))
local key = KEYS[2] .. ':evidence'
redis.call('LPUSH', key, cjson.encode({kind = ARGV[2] == '1' and 'spot-check-passed' or 'spot-check-failed', task = ARGV[5], at = now, cid = r.cid}))
redis.call('LTRIM', key, 0, 49)
return 1
`;
