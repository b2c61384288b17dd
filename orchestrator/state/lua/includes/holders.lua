-- @include escrow
-- @include idle
-- @include reputation
-- A replica out that a forward window counts, answered or let go: what bind.lua marked on it is
-- unmarked, once — `heldIn`, a buyer's tile its provider holds (while it holds one its polls
-- are not idle: forward-idle.lua), and `excusedOut`, one whose time is excused (its window waits
-- for it to settle) — and an excused one's time until `excusedUntil` is recorded (nil: let go
-- without a result, no time). Replicas bound before the marks existed count in neither.
local function answerForward(r, excusedUntil)
  if r.heldIn then redis.call('HINCRBY', K.forwardHeld(r.heldIn), r.worker, -1) end
  if r.excusedOut then redis.call('HINCRBY', K.forward(r.excuse), 'excusedOut', -1) end
  r.heldIn, r.excusedOut = nil, nil
  if r.excuse and excusedUntil then
    recordIdle(K.forwardIdle(r.excuse), r.worker, r.assignedAt, math.min(excusedUntil, r.excuseEnd))
  end
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
  redis.call('SREM', K.workerActive(r.worker), r.rid)
  unlockStake(r.worker, r.locked)
  void(r, now)
  if r.spot then redis.call('ZREM', K.spotLeases, r.rid) end
  answerForward(r, state == 'cancelled' and now or nil)
  if state == 'timedout' then
    count(r.worker, 'timedOut', 1)
    penalize(r.worker, penalty, r.rid, now)
  end
end
-- A forward replica its buyer's job cancelled: the provider's time on it is excused, not owed.
local function excuseCancelled(r, to)
  if r.payer == 'forward' then recordIdle(K.forwardIdle(string.match(r.pot, '^(%d+):')), r.worker, r.assignedAt, to) end
end
-- Let go without a result: the slot is someone else's to render (protocol.ts GAVE_UP).
local function gaveUp(r)
  return r.state == 'timedout' or r.state == 'handedback' or r.state == 'failed'
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
      redis.call('HSET', K.taskReplicas(taskId), all[i], cjson.encode(r))
    end
  end
end
