--[[
  Holds or releases a queued or running job's tiles not yet handed out: while it is held,
  bind.lua refuses its slots ('held'); replicas already out carry on and are verified as usual.
  Input:
    KEYS[1] job
    ARGV[1] '1' to hold, '0' to release
  Output:
    1 when set, 0 when the job had already ended
]]
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'queued' and state ~= 'running' then return 0 end
if ARGV[1] == '1' then redis.call('HSET', KEYS[1], 'paused', '1') else redis.call('HDEL', KEYS[1], 'paused') end
return 1
