--[[
  Puts a worker in a class after calibration. Credibility is per (worker, class): the checks it
  passed in its previous class are kept aside, and those of the new class (if it was there
  before) come back. One of the operator's counts as taking work in its class from now on (a key,
  once it looks for work: workers.ts).
  Input:
    KEYS[1] worker
    KEYS[2] worker's other classes
    ARGV[1] worker id
    ARGV[2] class id ('' for none)
    ARGV[3] class state
    ARGV[4] now (ms)
  Output:
    1
]]
-- @include reputation
local w = redis.call('HMGET', KEYS[1], 'class', 'passed')
if (w[1] or '') ~= ARGV[2] then
  if w[1] and w[1] ~= '' then redis.call('HSET', KEYS[2], w[1], cjson.encode({passed = tonumber(w[2] or '0')})) end
  local saved = ARGV[2] ~= '' and redis.call('HGET', KEYS[2], ARGV[2])
  local passed = 0
  if saved then passed = cjson.decode(saved).passed end
  redis.call('HSET', KEYS[1], 'class', ARGV[2])
  setPassed(ARGV[1], passed)
end
redis.call('HSET', KEYS[1], 'classState', ARGV[3], 'calibratedAt', ARGV[4])
if ARGV[2] ~= '' and (ARGV[3] == 'established' or ARGV[3] == 'provisional') and redis.call('HGET', KEYS[1], 'trusted') == '1' then
  redis.call('ZADD', K.classWorking(ARGV[2]), tonumber(ARGV[4]), ARGV[1])
  redis.call('ZADD', K.classTrusted(ARGV[2]), tonumber(ARGV[4]), ARGV[1])
end
return 1
