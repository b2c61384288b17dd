--[[
  What opaque replica ids stand for, a batch of them in one round trip: each one's task and slot
  number (farm:replica:<rid>, "<task> <n>"), the slot's current record and the task's rectangle.
  The task's keys are named here from what the index says (an id is opaque: it names no job), so
  on a Redis Cluster this would be two steps, the index and then the task.
  Input:
    KEYS[1..N] the replica ids' index keys
  Output:
    per id, in order: {} when it names no slot, else {task, n, record JSON or nil, rect JSON or nil} (false
    becomes nil in the reply; a nil would end the list)
]]
local out = {}
for i, key in ipairs(KEYS) do
  local where = redis.call('GET', key)
  local task, n
  if where then task, n = string.match(where, '^(%S+) (%d+)$') end
  if task then
    out[i] = {task, n, redis.call('HGET', K.taskReplicas(task), n) or false, redis.call('HGET', K.task(task), 'rect') or false}
  else
    out[i] = {}
  end
end
return out
