--[[
  Records that a provider owing a forward window asked for work from ARGV[2] to ARGV[3] and its
  buyers had none (includes/idle.lua).
  Input:
    KEYS[1] window idle times
    ARGV[1] worker id
    ARGV[2] from (ms)
    ARGV[3] to (ms)
  Output:
    'ok'
]]
-- @include idle
recordIdle(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
return 'ok'
