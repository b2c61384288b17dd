--[[
  A worker hands back a replica it holds (a graceful drain), or gives it up because rendering
  failed, with the error it reports: no penalty either way (decide.ts counts failures).
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
  Output:
    {the slot's queue name ('' for a spot check), the class the tile no longer has ('' when it
    keeps its class)} when handed back, else nil
]]
-- @include holders
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if not existing then return nil end
local r = cjson.decode(existing)
if r.rid ~= ARGV[2] or r.worker ~= ARGV[3] or r.state ~= 'assigned' then return nil end
if ARGV[7] == '' then
  letGo(r, 'handedback', tonumber(ARGV[4]), 0)
else
  letGo(r, 'failed', tonumber(ARGV[4]), 0)
  r.error = ARGV[7]
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
