--[[
  Records that a provider owing a forward window asked for work from ARGV[2] to ARGV[3] and its
  buyers had none it could take (includes/idle.lua) — unless it holds some of theirs unanswered
  (includes/holders.lua): then it has work, and handing it back later must not leave it excused.
  Input:
    KEYS[1] window idle times
    KEYS[2] window replicas held by provider
    ARGV[1] worker id
    ARGV[2] from (ms)
    ARGV[3] to (ms)
  Output:
    'ok' | 'holding'
]]
-- @include idle
if tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0') > 0 then return 'holding' end
recordIdle(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
return 'ok'
