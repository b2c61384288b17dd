--[[
  Counts a failed delivery attempt against its hook, and disables the hook when as many attempts
  in a row failed as are allowed (a delivered one resets the count: state/webhooks.ts). A hook
  deleted meanwhile is not brought back.
  Input:
    KEYS[1] the hook
    ARGV[1] failed attempts in a row that disable it
    ARGV[2] now (ms)
    ARGV[3] why, as its owner is shown it
  Output:
    1 when this attempt disabled it, else 0
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if failures < tonumber(ARGV[1]) or redis.call('HEXISTS', KEYS[1], 'disabledAt') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'disabledAt', ARGV[2], 'disabledReason', ARGV[3])
return 1
