--[[
  queued or running → cancelled. What is still out is wound down in the background (close-tasks).
  Input:
    KEYS[1] job
    ARGV[1] job id
    ARGV[2] now (ms)
  Output:
    1 when cancelled, 0 when the job had already ended
]]
-- @include jobs
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'queued' and state ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finishedAt', ARGV[2])
deactivate(ARGV[1], ARGV[2])
-- Until the close job has wound it down (recovery finishes it after a crash).
redis.call('SADD', K.jobsClosing, ARGV[1])
return 1
