-- @include escrow
-- @include idle
-- @include reputation
-- A replica out that a forward window counts, answered or let go: `heldIn`, a buyer's tile its
-- provider holds (while it holds one its polls are not idle: forward-idle.lua), is unmarked,
-- once; an excused one's time until `excusedUntil` is recorded (nil: let go without a result, no
-- time), and what that added is kept on it (`excusedMs`) until its verdict (settleExcuse).
-- Replicas bound before the marks existed count in neither.
local function answerForward(r, excusedUntil)
  if r.heldIn then redis.call('HINCRBY', K.forwardHeld(r.heldIn), r.worker, -1) end
  r.heldIn = nil
  if r.excuse and excusedUntil then
    r.excusedMs = recordIdle(K.forwardIdle(r.excuse), r.worker, r.assignedAt, math.min(excusedUntil, r.excuseEnd))
  end
end
-- An excused replica (`excusedOut`: its window waits for it to settle) is judged or let go: the
-- window no longer waits, and the time its answer was excused for is taken back unless `valid` —
-- sitting on another requester's tile all window and answering it with junk excuses nothing.
-- Once.
local function settleExcuse(r, valid)
  if not r.excusedOut then return end
  redis.call('HINCRBY', K.forward(r.excuse), 'excusedOut', -1)
  if not valid and (r.excusedMs or 0) > 0 then redis.call('HINCRBY', K.forwardIdle(r.excuse), r.worker, -r.excusedMs) end
  r.excusedOut, r.excusedMs = nil, nil
end
-- A spot check handed out in a buyer's slot of the window its provider owes (spot.lua) stands for
-- that slot: the window waits for its verdict (its `excusedOut` count), and a passed one's rays
-- count as delivered, as the buyer's replica's would have (includes/escrow.lua pay). Counted
-- neither delivered nor excused, a newcomer, whose every slot is a check until one passes, had
-- forfeited its collateral for the farm's own checks; excused by its time instead, one held to
-- its deadline had excused the window (a review). Once.
local function settleStandIn(r, delivered)
  if not r.standsFor then return end
  redis.call('HINCRBY', K.forward(r.standsFor), 'excusedOut', -1)
  if delivered > 0 then redis.call('HINCRBY', K.forwardDelivered(r.standsFor), r.worker, delivered) end
  r.standsFor = nil
end
--[[
  A worker lets go of a replica it holds and has not answered: 'timedout' (its lease lapsed or
  its deadline passed: penalised like any missed deadline, spot checks included), 'handedback'
  (a graceful drain), 'failed' (it reported a render error) or 'cancelled' (its job ended). Its
  stake is unlocked, its escrow commitment voided, and it no longer counts as holding the
  replica. The caller stores the record.
]]
local function letGo(r, state, now, penalty)
  r.state = state
  count(r.worker, 'inFlight', -1)
  -- No longer held for its job (bind.lua); a purged job's record is not written back into being.
  if r.countedOut and redis.call('EXISTS', K.job(r.job)) == 1 then
    redis.call('HINCRBY', K.job(r.job), 'replicasOut', -1)
  end
  redis.call('SREM', K.workerActive(r.worker), r.rid)
  unlockStake(r.worker, r.locked)
  void(r, now)
  if r.spot then redis.call('ZREM', K.spotLeases, r.rid) end
  answerForward(r, state == 'cancelled' and now or nil)
  settleExcuse(r, true)
  settleStandIn(r, 0)
  if state == 'timedout' then
    count(r.worker, 'timedOut', 1)
    penalize(r.worker, penalty, r.rid, now)
  end
  -- Its share of the job is not given back (it would take the tile again); this says it spent it.
  if r.job and not r.spot and state ~= 'cancelled' then redis.call('HINCRBY', K.jobShareLetGo(r.job), r.worker, 1) end
end
-- A forward replica its buyer's job cancelled: the provider's time on it is excused, not owed.
local function excuseCancelled(r, to)
  if r.payer == 'forward' then recordIdle(K.forwardIdle(string.match(r.pot, '^(%d+):')), r.worker, r.assignedAt, to) end
end
-- Counts a hand-back of an untrusted worker's against the hour's `free` ones, and charges the
-- missed-deadline `penalty` past them (release.lua; a render error its class overcame: settle.lua).
local function countHandBack(worker, rid, free, penalty, now)
  if redis.call('HGET', K.worker(worker), 'trusted') == '1' then return end
  -- One window an hour from the first (a fixed window: at most twice the allowance across its edge).
  local key = K.workerHandBacks(worker)
  local made = redis.call('INCR', key)
  if made == 1 then redis.call('PEXPIRE', key, 3600000) end
  if made > free then penalize(worker, penalty, rid, now) end
end
-- A pending tile a replica was let go of is looked at after the grace (`idleAt`), or at once when
-- it drains (includes/drain.lua): nothing more will come.
local function lookAfterLetGo(taskKey, taskId, idleAt, now)
  if redis.call('HGET', taskKey, 'draining') == '1' then idleAt = now end
  redis.call('ZADD', K.tasksIdle, idleAt, taskId)
end
-- Let go without a result: the slot is someone else's to render (protocol.ts GAVE_UP).
local function gaveUp(r)
  return r.state == 'timedout' or r.state == 'handedback' or r.state == 'failed'
end
-- A pending tile takes the class of the first worker bound to it (bind.lua), so that its results
-- compare. Once every replica of it is let go without a result it is open to every class again:
-- keys of a rare class that take each tile and hand it straight back (no penalty) would otherwise
-- keep it from the class that can render it, while its job bids for it. The class it had, when
-- it unpinned one ('' else): the caller moves the tile's slots waiting in that class's queue back
-- to the shared one (dispatch.ts).
local function unpinClass(taskKey, replicasKey)
  local class = redis.call('HGET', taskKey, 'class')
  if not class or class == '' or redis.call('HGET', taskKey, 'state') ~= 'pending' then return '' end
  for _, v in ipairs(redis.call('HVALS', replicasKey)) do
    if not gaveUp(cjson.decode(v)) then return '' end
  end
  redis.call('HSET', taskKey, 'class', '')
  return class
end
-- Cancels a task's replicas still out (held, or answered but not judged), unlocking their stake
-- and voiding their commitments.
local function cancelOutstanding(taskId, now)
  local all = redis.call('HGETALL', K.taskReplicas(taskId))
  for i = 1, #all, 2 do
    local r = cjson.decode(all[i + 1])
    if r.state == 'assigned' then
      letGo(r, 'cancelled', now, 0)
      excuseCancelled(r, now)
      redis.call('HSET', K.taskReplicas(taskId), all[i], cjson.encode(r))
    elseif r.state == 'submitted' then
      r.state = 'cancelled'
      unlockStake(r.worker, r.locked)
      void(r, now)
      excuseCancelled(r, r.submittedAt or now)
      settleExcuse(r, true)
      settleStandIn(r, 0)
      redis.call('HSET', K.taskReplicas(taskId), all[i], cjson.encode(r))
    end
  end
end
