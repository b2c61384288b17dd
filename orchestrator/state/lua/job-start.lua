--[[
  queued → running (planning made its tasks); its timeout starts counting.
  Input:
    KEYS[1] job
    ARGV[1] job id
    ARGV[2] now (ms)
  Output:
    1 when the job is running, 0 when it no longer may run (cancelled, failed)
]]
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'queued' then
  local deadline = tonumber(ARGV[2]) + tonumber(redis.call('HGET', KEYS[1], 'timeoutMs'))
  redis.call('HSET', KEYS[1], 'state', 'running', 'deadlineAt', deadline)
  redis.call('ZADD', K.jobDeadlines, deadline, ARGV[1])
  return 1
end
return state == 'running' and 1 or 0
