--[[
  Winds down a batch of a cancelled or failed job's pending tasks: replicas still out are
  cancelled and their stake unlocked, and the caller withdraws the slots from their queues.
  Input:
    KEYS[1] job pending tasks
    ARGV[1] now (ms)
    ARGV[2] batch size
    ARGV[3] job id
  Output:
    {pending tasks left, JSON [[task id, first slot, next slot], ...] whose slots to withdraw}
]]
-- @include holders
local now = tonumber(ARGV[1])
local withdraw = {}
for _, taskId in ipairs(redis.call('SPOP', KEYS[1], tonumber(ARGV[2]))) do
  local tkey = K.task(taskId)
  if redis.call('HGET', tkey, 'state') == 'pending' then redis.call('HSET', tkey, 'state', 'closed', 'waiting', '') end
  redis.call('ZREM', K.tasksIdle, taskId)
  cancelOutstanding(taskId, now)
  table.insert(withdraw, {taskId, 0, tonumber(redis.call('HGET', tkey, 'nextSlot') or '0')})
end
local left = redis.call('SCARD', KEYS[1])
if left == 0 then redis.call('SREM', K.jobsClosing, ARGV[3]) end
return {left, cjson.encode(withdraw)}
