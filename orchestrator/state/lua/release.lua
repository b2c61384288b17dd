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
    the class the tile no longer has ('' when it keeps its class) when let go, else nil
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
if ARGV[7] == '' and ARGV[8] ~= '' then countHandBack(ARGV[3], r.rid, tonumber(ARGV[8]), tonumber(ARGV[9]), now) end
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(r))
local unpinned = ''
if not r.spot and redis.call('HGET', KEYS[1], 'state') == 'pending' then
  lookAfterLetGo(KEYS[1], ARGV[6], tonumber(ARGV[5]), now)
  unpinned = unpinClass(KEYS[1], KEYS[2])
end
return unpinned
