--[[
  Hands a worker a spot check: a tile of its class already verified with one of the operator's
  trusted workers in the accepted group, as one more replica that looks like any other (opaque id,
  stake locked, counted in flight, leased and deadlined the same way). A tile of the pool serves
  each worker at most once (never one that rendered it) and at most ARGV[9] workers in all; tiles
  of frames still being rendered go first.
  Input:
    KEYS[1] spot pool to draw from
    KEYS[2] worker
    ARGV[1] worker id
    ARGV[2] new replica id
    ARGV[3] now (ms)
    ARGV[4] deadline (ms)
    ARGV[5] lease expiry (ms)
    ARGV[6] stake locked per replica (µc)
    ARGV[7] most replicas an untrusted worker may hold at once
    ARGV[8] least stake an untrusted worker must hold to take work (µc)
    ARGV[9] workers one tile serves as a spot check before it leaves the pool
    ARGV[10] the price the treasury pays the check at (ticks per RU): what the slot it stands in
             for would have traded at, at most the last price that traded (never the worker's
             own ask alone); '' when none ever traded
  Output:
    {task id, slot number, frame, rect JSON, scene CID}, or nil when nothing fits
]]
-- @include holders
-- @include votes
local workerId, rid, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
if tonumber(redis.call('HGET', KEYS[2], 'inFlight') or '0') >= tonumber(ARGV[7]) then return nil end
if not canBack(workerId, tonumber(ARGV[6]), tonumber(ARGV[8])) then return nil end
-- Where real work comes from, first (among 8 drawn at random and the 8 newest): a frame still
-- being rendered (its tiles are queued in a random order: planner.ts dispatchOrder), then a job
-- still running, then any. A check from a scene its worker has not seen for a long time, or
-- from behind the frames it is being given, would stand out.
local drawn = redis.call('ZRANDMEMBER', KEYS[1], 8)
local candidates = {}
for _, taskId in ipairs(drawn) do table.insert(candidates, taskId) end
for _, taskId in ipairs(redis.call('ZRANGE', KEYS[1], -8, -1)) do table.insert(candidates, taskId) end
local ANY, RUNNING, RENDERING = 0, 1, 2
local function pick(taskId, tier)
  local tkey = K.task(taskId)
  local t = redis.call('HMGET', tkey, 'state', 'job', 'frame', 'rect')
  if t[1] ~= 'verified' then return nil end
  local job = redis.call('HMGET', K.job(t[2]), 'state', 'scene', 'tilesPerFrame')
  if tier >= RUNNING and job[1] ~= 'running' then return nil end
  if tier == RENDERING and tonumber(redis.call('HGET', K.jobFrames(t[2]), t[3]) or '0') >= tonumber(job[3] or '0') then return nil end
  -- Never to a worker that held a replica of it (it would know the answer).
  if votesOn(K.taskReplicas(taskId))[workerId] ~= nil then return nil end
  local scene = job[2]
  local n = redis.call('HINCRBY', tkey, 'nextSlot', 1) - 1
  local locked = tonumber(ARGV[6])
  local record = {rid = rid, n = n, worker = workerId, state = 'assigned', assignedAt = now,
    deadline = tonumber(ARGV[4]), queue = '', scene = scene, locked = locked, spot = true, payer = 'treasury',
    price = tonumber(ARGV[10]) or 0}
  -- Judged by how it was handed out: a worker that recalibrates into a provisional class
  -- while holding an exact check must not have it judged within the tolerance.
  if redis.call('HGET', KEYS[2], 'classState') == 'provisional' then record.provisional = true end
  redis.call('HSET', K.taskReplicas(taskId), n, cjson.encode(record))
  redis.call('SET', K.replica(rid), taskId .. ' ' .. n)
  lockStake(workerId, locked)
  count(workerId, 'inFlight', 1)
  redis.call('SADD', K.workerActive(workerId), rid)
  redis.call('ZADD', K.spotLeases, tonumber(ARGV[5]), rid)
  -- A known answer serves a few workers only, so that colluding keys have few repeats of
  -- one check to compare.
  if redis.call('HINCRBY', tkey, 'spotUses', 1) >= tonumber(ARGV[9]) then redis.call('ZREM', KEYS[1], taskId) end
  return {taskId, n, t[3], t[4], scene}
end
for tier = RENDERING, ANY, -1 do
  for _, taskId in ipairs(tier == ANY and drawn or candidates) do
    local picked = pick(taskId, tier)
    if picked then return picked end
  end
end
return nil
