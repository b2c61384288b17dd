-- @include escrow
-- @include idle
-- @include reputation
-- An excused replica (bind.lua) answered, with its time on it until `to` excused, or let go
-- without a result (`to` nil: no time). Its window waits for every such replica to settle.
local function answerExcused(r, to)
  redis.call('HINCRBY', K.forward(r.excuse), 'excusedOut', -1)
  if to then recordIdle(K.forwardIdle(r.excuse), r.worker, r.assignedAt, math.min(to, r.excuseEnd)) end
end
--[[
  A worker lets go of a replica it holds and has not answered: 'timedout' (its lease lapsed or
  its deadline passed: penalised like any missed deadline, spot checks included), 'handedback'
  (a graceful drain), 'failed' (it reported a render error) or 'cancelled' (its job ended). Its
  stake is unlocked, its escrow commitment voided, and it no longer counts as holding the
  replica. The caller stores the record.
]]
-- A provider holds a replica its buyer prepaid (bind.lua) until it answers or lets go; while it
-- holds one, its polls are not idle time (forward-idle.lua, bind.lua's excuse): a provider
-- sitting on its buyers' tiles has work.
local function holdForward(r, by)
  if r.payer == 'forward' then redis.call('HINCRBY', K.forwardHeld(string.match(r.pot, '^(%d+):')), r.worker, by) end
end
local function letGo(r, state, now, penalty)
  r.state = state
  count(r.worker, 'inFlight', -1)
  redis.call('SREM', K.workerActive(r.worker), r.rid)
  unlockStake(r.worker, r.locked)
  void(r, now)
  if r.spot then redis.call('ZREM', K.spotLeases, r.rid) end
  if r.excuse then answerExcused(r, state == 'cancelled' and now or nil) end
  holdForward(r, -1)
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
