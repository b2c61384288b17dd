--[[
  Winds down a batch of a cancelled or failed job's pending tasks: a tile with real replicas out
  drains (includes/drain.lua); the others close, any spot check still out on them cancelled and
  its stake unlocked; the caller withdraws every slot still queued from its queue.
  Input:
    KEYS[1] job pending tasks
    ARGV[1] now (ms)
    ARGV[2] batch size
    ARGV[3] job id
  Output:
    {pending tasks left, JSON [[task id, first slot, next slot, (slots to keep)], ...] whose
    slots to withdraw: a draining task keeps its held replicas' slots}
]]
-- @include drain
local now, jobId = tonumber(ARGV[1]), ARGV[3]
local withdraw = {}
for _, taskId in ipairs(redis.call('SPOP', KEYS[1], tonumber(ARGV[2]))) do
  local slots = {taskId, 0, tonumber(redis.call('HGET', K.task(taskId), 'nextSlot') or '0')}
  if drainable(taskId) then
    local held = drain(taskId, jobId, now)
    if #held > 0 then slots[4] = held end
  else
    closeTask(taskId, jobId, now)
  end
  table.insert(withdraw, slots)
end
local left = redis.call('SCARD', KEYS[1])
if left == 0 then redis.call('SREM', K.jobsClosing, jobId) end
return {left, cjson.encode(withdraw)}
