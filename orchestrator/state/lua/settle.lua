--[[
  Applies a decision of orchestrator/verdict/decide.ts, judged on task version ARGV[3]: a
  concurrent change in between makes it 'stale' (judge again). Reputation and money move with the
  verdict, atomically. Agreeing results are valid: paid (RU × the price each traded at, from the
  escrow: includes/escrow.lua), unlocked, counted in their workers' recent throughput
  (includes/reputation.lua) and in what they were paid; and a passed check and a measure of their
  speed where the decision says they were checked against ground truth; how long each waited for
  its verdict is recorded (includes/latency.lua: a spot check's verdict waits as long), and a
  forward provider's time excused for one stands (includes/holders.lua settleExcuse). Disagreeing
  results are 'invalid' faults (slashed to the agreeing workers, blacklisted for the job, and one
  paid before pays it back: includes/escrow.lua clawBack) only when the decision is backed by
  ground truth ('faulty'); otherwise 'overruled', with no fault; either way, time excused for it
  is taken back.
  Input:
    KEYS[1] task
    KEYS[2] task replicas
    KEYS[3] job
    KEYS[4] job frames (verified tiles per frame)
    KEYS[5] job pending tasks
    KEYS[6] job frame completions
    ARGV[1] task id
    ARGV[2] job id
    ARGV[3] version the decision was judged on
    ARGV[4] decision JSON: {kind='accept', cid, credibility, below, anchored, agree, disagree,
            faulty, checked, auditSkipped, basis} | {kind='late', agree, disagree, faulty, checked}
            | {kind='issue', count, arbiter, audit, stock, waiting} | {kind='wait', waiting, idleAt} |
            {kind='fail', message}; slots are numbers; basis maps worker → fault count the
            credibilities were computed from (a changed count makes the decision stale)
    ARGV[5] now (ms)
    ARGV[6] tiles per frame
    ARGV[7] the operator's fee on a job's payments (parts per million)
    ARGV[8] share of the stake a fault loses (0..1)
    ARGV[9] 1 to remember which workers an unanchored verdict (at θ or below) rests on (backtracking)
    ARGV[10] idle-check time after an issue (ms)
    ARGV[11] missed-deadline penalty (µc)
    ARGV[12] hand-backs an untrusted worker makes in an hour for nothing (release.lua)
  Output:
    {status, value, caught JSON}: 'stale' | 'verified' (value: the frame's completion count when
    this verdict completes it, else 0) | 'issued' (value: first new slot number) | 'late' |
    'waiting' | 'failed'
]]
-- @include escrow
-- @include reputation
-- @include jobs
-- @include outbox
-- @include latency
-- @include holders
-- @include drain
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[3] then return {'stale', 0, '[]'} end
local d = cjson.decode(ARGV[4])
local taskId, jobId, now = ARGV[1], ARGV[2], tonumber(ARGV[5])
local state = redis.call('HGET', KEYS[1], 'state')
local caught = {}

local function settleResults(winner, vouch)
  local checked = {}
  for _, n in ipairs(d.checked) do checked[n] = true end
  local won = {}
  local class = redis.call('HGET', KEYS[1], 'class')
  for _, n in ipairs(d.agree) do
    local r = cjson.decode(redis.call('HGET', KEYS[2], n))
    if r.state == 'submitted' then
      recordVerdictLatency(r, class, now)
      settleExcuse(r, true)
      r.state = 'valid'
      unlockStake(r.worker, r.locked)
      pay(r, now, tonumber(ARGV[7]))
      redis.call('HSET', KEYS[2], n, cjson.encode(r))
      count(r.worker, 'valid', 1)
      countRecent(r.worker, now)
      -- Its measured speed, what the market offers of it (market/book.ts), only from a verdict
      -- ground truth backs, as credibility: an unchecked result (a key's own job, accepted on
      -- its word) could claim a tile's most rays a few milliseconds after it was handed out.
      if d.anchored then measureSpeed(r, now) end
      countPaid(r, now, tonumber(ARGV[7]))
      if checked[n] then passCheck(r.worker, r.assignedAt) end
      if vouch then redis.call('SADD', K.workerVouched(r.worker), taskId) end
    end
    table.insert(won, r.worker)
  end
  local losers = {}
  for _, n in ipairs(d.disagree) do
    local r = cjson.decode(redis.call('HGET', KEYS[2], n))
    -- A result accepted before a reopen and contradicted now is judged like a fresh one.
    local was = r.state
    if was == 'submitted' or was == 'valid' then
      if was == 'submitted' then
        recordVerdictLatency(r, class, now)
        settleExcuse(r, false)
        unlockStake(r.worker, r.locked)
        void(r, now)
      else
        count(r.worker, 'valid', -1)
      end
      if d.faulty then
        r.state = 'invalid'
        count(r.worker, 'invalid', 1)
        fault(r.worker, jobId, now)
        slash(r.worker, tonumber(ARGV[8]), won, r.rid, now)
        if was == 'valid' then clawBack(r, now) end
        evidence(r.worker, {kind = 'outvoted', task = taskId, at = now, cid = r.cid})
        table.insert(caught, r.worker)
        table.insert(losers, r.worker)
      else
        r.state = 'overruled'
        evidence(r.worker, {kind = 'disagreed', task = taskId, at = now, cid = r.cid})
      end
      redis.call('HSET', KEYS[2], n, cjson.encode(r))
    end
  end
  if #losers > 0 then
    for _, w in ipairs(won) do
      evidence(w, {kind = 'outvoted-others', task = taskId, at = now, against = losers})
    end
  end
end

if d.kind == 'late' then
  if state ~= 'verified' then return {'stale', 0, '[]'} end
  settleResults(redis.call('HGET', KEYS[1], 'cid'), false)
  return {'late', 0, cjson.encode(caught)}
end
if state ~= 'pending' then return {'stale', 0, '[]'} end

-- A render error reported on a tile its own class rendered after all counts, once, as a hand-back
-- of its untrusted worker's (release.lua: past the hour's free ones, the missed-deadline penalty): a
-- free error was a look at whether the replica was real (its slot comes back to its queue). A
-- tile nobody renders — a scene that breaks renderers — or only another class does, counts for
-- nobody (a requester's scene that breaks some renderers must not cost their providers).
local function chargeFailures()
  local class = redis.call('HGET', KEYS[1], 'class')
  local all = redis.call('HGETALL', KEYS[2])
  for i = 1, #all, 2 do
    local n, r = all[i], cjson.decode(all[i + 1])
    local changed = false
    for _, o in ipairs({r, unpack(r.previous or {})}) do
      if o.state == 'failed' and not o.charged and not o.spot then
        o.charged, changed = true, true
        if redis.call('HGET', K.worker(o.worker), 'class') == class then
          countHandBack(o.worker, o.rid, tonumber(ARGV[12]), tonumber(ARGV[11]), now)
        end
      end
    end
    if changed then redis.call('HSET', KEYS[2], n, cjson.encode(r)) end
  end
end

if d.kind == 'accept' then
  for worker, faults in pairs(d.basis) do
    if tonumber(redis.call('HGET', K.worker(worker), 'faults') or '0') ~= faults then return {'stale', 0, '[]'} end
  end
  chargeFailures()
  local below, anchored = d.below and 1 or 0, d.anchored and 1 or 0
  local credibility = d.credibility
  if type(credibility) ~= 'number' then credibility = '' end
  redis.call('HSET', KEYS[1], 'state', 'verified', 'cid', d.cid, 'credibility', credibility, 'below', below,
    'anchored', anchored, 'decidedAt', now, 'auditSkipped', d.auditSkipped and 1 or 0, 'waiting', '')
  redis.call('SREM', KEYS[5], taskId)
  redis.call('ZREM', K.tasksIdle, taskId)
  drained(taskId, jobId)
  local t = redis.call('HMGET', KEYS[1], 'class', 'stockSlot')
  if d.anchored and not d.below then
    -- Ground truth: from now on this tile can serve as a spot check of its class.
    local pool = K.spotPool(t[1])
    redis.call('ZADD', pool, now, taskId)
    redis.call('ZREMRANGEBYRANK', pool, 0, -1001)
  end
  -- A stocking audit of it is over (stock-reserve.lua).
  if t[2] then redis.call('ZREM', K.stocking(t[1]), taskId) end
  settleResults(d.cid, ARGV[9] == '1' and not d.anchored)
  -- The work the tile took, as its accepted result counted it (agreeing results share one CID, so one count).
  local rays = cjson.decode(redis.call('HGET', KEYS[2], d.agree[1])).rays or 0
  redis.call('HSET', KEYS[1], 'rays', rays)
  redis.call('HINCRBY', KEYS[3], 'raysVerified', rays)
  redis.call('HINCRBY', KEYS[3], 'tilesVerified', 1)
  if d.below then redis.call('HINCRBY', KEYS[3], 'tilesBelowThreshold', 1) end
  local frame = redis.call('HGET', KEYS[1], 'frame')
  local generation = 0
  if redis.call('HINCRBY', KEYS[4], frame, 1) == tonumber(ARGV[6]) then generation = redis.call('HINCRBY', KEYS[6], frame, 1) end
  return {'verified', generation, cjson.encode(caught)}
end

if d.kind == 'issue' then
  local first = redis.call('HINCRBY', KEYS[1], 'nextSlot', d.count) - d.count
  redis.call('HINCRBY', KEYS[1], 'issued', d.count)
  redis.call('HINCRBY', KEYS[1], 'outstanding', d.count)
  redis.call('HINCRBY', KEYS[1], 'version', 1)
  redis.call('HINCRBY', KEYS[3], 'replicasIssued', d.count)
  if d.arbiter then redis.call('HSET', KEYS[1], 'arbiter', first) end
  if d.audit then redis.call('HSET', KEYS[1], 'audited', 1) end
  if d.stock then redis.call('HSET', KEYS[1], 'stockSlot', first) end
  redis.call('HSET', KEYS[1], 'waiting', cjson.encode(d.waiting), 'progressAt', now)
  redis.call('ZADD', K.tasksIdle, tonumber(ARGV[10]), taskId)
  return {'issued', first, '[]'}
end

if d.kind == 'wait' then
  redis.call('HSET', KEYS[1], 'waiting', cjson.encode(d.waiting))
  if type(d.idleAt) == 'number' then redis.call('ZADD', K.tasksIdle, d.idleAt, taskId)
  else redis.call('ZREM', K.tasksIdle, taskId) end
  return {'waiting', 0, '[]'}
end

-- fail
-- The task stays in the job's pending set: closing the job cancels its replicas and unlocks
-- their stake, this task's included. With replicas out (a held one at the job's timeout) it drains
-- instead, as the job's other tiles do (includes/drain.lua): failed, it had cancelled them unpaid.
if drainable(taskId) then
  drain(taskId, jobId, now)
else
  redis.call('HSET', KEYS[1], 'state', 'failed', 'decidedAt', now, 'waiting', '')
  redis.call('ZREM', K.tasksIdle, taskId)
end
if redis.call('HGET', KEYS[3], 'state') == 'running' then
  redis.call('HSET', KEYS[3], 'state', 'failed', 'error', d.message, 'finishedAt', now)
  deactivate(jobId, now)
  redis.call('SADD', K.jobsClosing, jobId)
  outbox(KEYS[3], 'job.failed', 'state', 'failed', 'error', d.message)
end
return {'failed', 0, '[]'}
