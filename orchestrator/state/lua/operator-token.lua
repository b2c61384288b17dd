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
    KEYS[3] workers by credibility (the operator's keys at 1e15: includes/reputation.lua)
    ARGV[1] the token's digest
    ARGV[2] its principal (JSON)
    ARGV[3] '1': exclusive; '': beside any others (a data directory's generated token)
  Output:
    -1 when the token was revoked before; else the owners of the operator tokens revoked now
]]
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return -1 end
-- Everything read before anything is written: Redis keeps what a script wrote before an error.
local revoked, owners = {}, {}
if ARGV[3] == '1' then
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    -- A requester's name cjson cannot read (a lone surrogate) must not stop a rotation: skipped.
    local ok, principal = pcall(cjson.decode, all[i + 1])
    if ok and all[i] ~= ARGV[1] and principal.role == 'operator' then
      revoked[#revoked + 1] = all[i]
      owners[#owners + 1] = principal.owner
    end
  end
end
if #revoked > 0 then
  for _, w in ipairs(redis.call('ZRANGE', KEYS[3], 1e15, '+inf', 'BYSCORE')) do
    local h = redis.call('HMGET', K.worker(w), 'class', 'passed')
    redis.call('HSET', K.worker(w), 'trusted', 0)
    redis.call('ZADD', KEYS[3], tonumber(h[2]) or 0, w)
    if h[1] and h[1] ~= '' then redis.call('ZREM', K.classTrusted(h[1]), w) end
  end
  redis.call('HDEL', KEYS[1], unpack(revoked))
  redis.call('SADD', KEYS[2], unpack(revoked))
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return owners
