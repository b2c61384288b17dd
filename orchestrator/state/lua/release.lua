--[[
  A worker hands back a replica it holds (a graceful drain), or gives it up because rendering
  failed, with the error it reports (decide.ts counts failures). A hand-back is free for an
  untrusted worker up to ARGV[8] an hour, then each costs the missed-deadline penalty: it is a look
  at whether the replica was real (a real slot comes back to its queue for a sibling to be given,
  a spot check's tile never does: an attacker's review labelled real replicas so, none a check,
  before answering any); spot checks and real replicas count alike. The orchestrator handing back
  what a poll found for a worker that hung up before it was told passes '' (nothing was seen). A
  failure is not counted here — a requester's scene that breaks renderers would have cost every
  provider (another review) — but when its tile is accepted after all (settle.lua).
  Input:
    KEYS[1] task
    KEYS[2] task replicas
    ARGV[1] slot number n
    ARGV[2] replica id
    ARGV[3] worker id
    ARGV[4] now (ms)
    ARGV[5] idle-check time for the task (ms)
    ARGV[6] task id
    ARGV[7] the render error ('' for a hand-back)
    ARGV[8] free hand-backs an hour, or '' when this one is not the worker's doing
    ARGV[9] missed-deadline penalty (µc)
  Output:
    {the slot's queue name ('' for a spot check), the class the tile no longer has ('' when it
    keeps its class)} when handed back, else nil
]]
-- @include holders
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if not existing then return nil end
local r = cjson.decode(existing)
if r.rid ~= ARGV[2] or r.worker ~= ARGV[3] or r.state ~= 'assigned' then return nil end
local now = tonumber(ARGV[4])
if ARGV[7] == '' then
  letGo(r, 'handedback', now, 0)
else
  letGo(r, 'failed', now, 0)
  r.error = ARGV[7]
end
if ARGV[7] == '' and ARGV[8] ~= '' and redis.call('HGET', K.worker(ARGV[3]), 'trusted') ~= '1' then
  -- One window an hour from the first (a fixed window: at most twice the allowance across its edge).
  local key = K.workerHandBacks(ARGV[3])
  local made = redis.call('INCR', key)
  if made == 1 then redis.call('PEXPIRE', key, 3600000) end
  if made > tonumber(ARGV[8]) then penalize(ARGV[3], tonumber(ARGV[9]), r.rid, now) end
end
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(r))
local unpinned = ''
if not r.spot and redis.call('HGET', KEYS[1], 'state') == 'pending' then
  -- A cancelled job's draining tile (includes/drain.lua) is judged at once: nothing more will come.
  local lookAt = tonumber(ARGV[5])
  if redis.call('HGET', KEYS[1], 'draining') == '1' then lookAt = tonumber(ARGV[4]) end
  redis.call('ZADD', K.tasksIdle, lookAt, ARGV[6])
  unpinned = unpinClass(KEYS[1], KEYS[2])
end
return {r.queue or '', unpinned}
