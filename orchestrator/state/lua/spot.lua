--[[
  Hands a worker a spot check: a tile of its class already verified with one of the operator's
  trusted workers in the accepted group, as one more replica that looks like any other (opaque id,
  stake locked, counted in flight, leased and deadlined the same way). A tile of the pool serves
  each worker at most once (never one that rendered it) and at most ARGV[9] workers in all, and
  none of a job being deleted (asked to be, or purged).
  Where real work comes from goes first: tiles of the frame of the slot the check stands in for
  (a frame's tiles are queued in a random order: planner.ts dispatchOrder), then of frames still
  being rendered, then of running jobs, then any (among 8 drawn at random and the 8 newest). A
  check from a scene its worker has not seen for a while, or from behind the frames it is being
  given, would stand out.
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
    ARGV[11] the task of the slot the check stands in for ('' for none)
    ARGV[12] distinct tile numbers of that task's frame to try, comma-separated (drawn by the caller)
    ARGV[13] the forward window its worker owes, when the slot was one of its buyers': the check
             stands for that slot there (includes/holders.lua settleStandIn); '' else
  Output:
    {task id, slot number, frame, rect JSON, scene CID}, or nil when nothing fits
]]
-- @include holders
-- @include votes
local workerId, rid, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
if tonumber(redis.call('HGET', KEYS[2], 'inFlight') or '0') >= tonumber(ARGV[7]) then return nil end
if not canBack(workerId, tonumber(ARGV[6]), tonumber(ARGV[8])) then return nil end

-- What a candidate tile is, read once however many tiers look at it: nil when it cannot serve.
local known = {}
local function factsOf(taskId)
  if known[taskId] == nil then
    known[taskId] = false
    local t = redis.call('HMGET', K.task(taskId), 'state', 'job', 'frame', 'rect')
    local job = t[2] and redis.call('HMGET', K.job(t[2]), 'state', 'scene', 'tilesPerFrame', 'purging')
    -- Not from a job being deleted (its deletion asked for, score 0, or its purge under way; for
    -- good): its deletion would wait for the check. It leaves the pool, where it had taken the
    -- place of a tile that could serve.
    local deleting = job and (job[4] or redis.call('ZSCORE', K.jobsEnded, t[2]) == '0')
    if deleting then redis.call('ZREM', KEYS[1], taskId) end
    if t[1] == 'verified' and not deleting then
      local verifiedInFrame = tonumber(redis.call('HGET', K.jobFrames(t[2]), t[3]) or '0')
      known[taskId] = {frame = t[3], rect = t[4], scene = job[2], running = job[1] == 'running',
        rendering = job[1] == 'running' and verifiedInFrame < tonumber(job[3] or '0')}
    end
  end
  return known[taskId] or nil
end
-- Never to a worker that held a replica of it (it would know the answer): read last, once.
local unseen = {}
local function unseenBy(taskId)
  if unseen[taskId] == nil then unseen[taskId] = votesOn(K.taskReplicas(taskId))[workerId] == nil end
  return unseen[taskId]
end

local function handOut(taskId, f)
  local tkey = K.task(taskId)
  local n = redis.call('HINCRBY', tkey, 'nextSlot', 1) - 1
  local locked = tonumber(ARGV[6])
  local record = {rid = rid, n = n, worker = workerId, state = 'assigned', assignedAt = now,
    deadline = tonumber(ARGV[4]), leaseUntil = tonumber(ARGV[5]), queue = '', scene = f.scene, locked = locked,
    spot = true, payer = 'treasury', price = tonumber(ARGV[10]) or 0}
  -- Judged by how it was handed out: a worker that recalibrates into a provisional class
  -- while holding an exact check must not have it judged within the tolerance.
  if redis.call('HGET', KEYS[2], 'classState') == 'provisional' then record.provisional = true end
  if ARGV[13] ~= '' then
    record.standsFor = ARGV[13]
    redis.call('HINCRBY', K.forward(ARGV[13]), 'excusedOut', 1)
  end
  redis.call('HSET', K.taskReplicas(taskId), n, cjson.encode(record))
  redis.call('SET', K.replica(rid), taskId .. ' ' .. n)
  lockStake(workerId, locked)
  count(workerId, 'inFlight', 1)
  redis.call('SADD', K.workerActive(workerId), rid)
  redis.call('ZADD', K.spotLeases, tonumber(ARGV[5]), rid)
  -- A known answer serves a few workers only, so that colluding keys have few repeats of
  -- one check to compare.
  if redis.call('HINCRBY', tkey, 'spotUses', 1) >= tonumber(ARGV[9]) then redis.call('ZREM', KEYS[1], taskId) end
  return {taskId, n, f.frame, f.rect, f.scene}
end

local sameFrame = {}
local prefix = string.match(ARGV[11], '^(.+%.f%d+%.t)%d+$')
if prefix then
  for tile in string.gmatch(ARGV[12], '%d+') do
    local taskId = prefix .. tile
    if redis.call('ZSCORE', KEYS[1], taskId) then table.insert(sameFrame, taskId) end
  end
end
local others = redis.call('ZRANDMEMBER', KEYS[1], 8)
for _, taskId in ipairs(redis.call('ZRANGE', KEYS[1], -8, -1)) do table.insert(others, taskId) end
local tiers = {
  {sameFrame, function(f) return f.running end},
  {others, function(f) return f.rendering end},
  {others, function(f) return f.running end},
  {others, function() return true end},
}
for _, tier in ipairs(tiers) do
  for _, taskId in ipairs(tier[1]) do
    local f = factsOf(taskId)
    if f and tier[2](f) and unseenBy(taskId) then return handOut(taskId, f) end
  end
end
return nil
