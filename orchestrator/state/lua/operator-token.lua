--[[
  Makes a token an operator token of the farm (tokens.ts setOperator), at once. A token revoked
  before is refused: an orchestrator started with the settings a rotation replaced would otherwise
  bring it back and revoke the new one. Exclusive (FARM_TOKEN): every other operator token is
  revoked and remembered so, and where any was, every key registered as the operator's loses its
  trust until it registers with the token in force (a key a leaked token registered had kept it,
  and with it ground truth).
  Input:
    KEYS[1] tokens (digest → principal JSON)
    KEYS[2] revoked operator digests
    KEYS[3] every worker
    ARGV[1] the token's digest
    ARGV[2] its principal (JSON)
    ARGV[3] '1': exclusive; '': beside any others (a data directory's generated token)
  Output:
    -1 when the token was revoked before; else the owners of the operator tokens revoked now
]]
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return -1 end
local revoked = {}
if ARGV[3] == '1' then
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    local principal = cjson.decode(all[i + 1])
    if all[i] ~= ARGV[1] and principal.role == 'operator' then
      redis.call('HDEL', KEYS[1], all[i])
      redis.call('SADD', KEYS[2], all[i])
      revoked[#revoked + 1] = principal.owner
    end
  end
end
if #revoked > 0 then
  for _, w in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
    local h = redis.call('HMGET', K.worker(w), 'trusted', 'class', 'passed')
    if h[1] == '1' then
      redis.call('HSET', K.worker(w), 'trusted', 0)
      redis.call('ZADD', K.workersBy('credibility'), tonumber(h[3]) or 0, w)
      if h[2] and h[2] ~= '' then redis.call('ZREM', K.classTrusted(h[2]), w) end
    end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return revoked
