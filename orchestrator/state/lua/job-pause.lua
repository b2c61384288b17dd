--[[
  Holds or releases a queued or running job's tiles not yet handed out: while it is held,
  bind.lua refuses its slots ('held'); replicas already out carry on and are verified as usual.
  Its timeout stops while it is held (what is left of it is kept) and runs on when it is released;
  released, its bid stands anew (includes/jobs.lua bidAnew).
  Input:
    KEYS[1] job
    ARGV[1] '1' to hold, '0' to release
    ARGV[2] job id
    ARGV[3] now (ms)
  Output:
    1 when set, 0 when the job had already ended
]]
-- @include jobs
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'queued' and state ~= 'running' then return 0 end
local now = tonumber(ARGV[3])
if ARGV[1] == '1' then
  if redis.call('HSETNX', KEYS[1], 'paused', '1') == 1 then
    local deadline = tonumber(redis.call('HGET', KEYS[1], 'deadlineAt') or '')
    if deadline then startClock(ARGV[2], math.max(0, deadline - now), now) end
  end
elseif redis.call('HDEL', KEYS[1], 'paused') == 1 then
  local left = tonumber(redis.call('HGET', KEYS[1], 'deadlineLeft') or '')
  if left then startClock(ARGV[2], left, now) end
  bidAnew(ARGV[2], now)
end
return 1
