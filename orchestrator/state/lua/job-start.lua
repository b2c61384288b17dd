--[[
  queued → running (planning made its tasks); its timeout starts counting, unless it is paused,
  and its bid stands from now (includes/jobs.lua bidAnew).
  Input:
    KEYS[1] job
    ARGV[1] job id
    ARGV[2] now (ms)
  Output:
    1 when the job is running, 0 when it no longer may run (cancelled, failed)
]]
-- @include jobs
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'queued' then
  redis.call('HSET', KEYS[1], 'state', 'running')
  startClock(ARGV[1], tonumber(redis.call('HGET', KEYS[1], 'timeoutMs')), ARGV[2])
  bidAnew(ARGV[1], ARGV[2])
  return 1
end
return state == 'running' and 1 or 0
