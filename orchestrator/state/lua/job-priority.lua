--[[
  Sets a queued or running job's priority (market/priority.ts orders its slots by it).
  Input:
    KEYS[1] job
    ARGV[1] priority (0–100)
  Output:
    1 when set, 0 when the job had already ended
]]
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'queued' and state ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'priority', ARGV[1])
return 1
