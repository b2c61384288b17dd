--[[
  Adds a requester's webhook unless it already has as many as it may.
  Input:
    KEYS[1] the hook
    KEYS[2] the owner's hooks
    ARGV[1] hook id
    ARGV[2] hook record JSON (flat fields)
    ARGV[3] most hooks an owner may have
  Output:
    1 when added, 0 when the owner has too many
]]
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 0 end
for field, value in pairs(cjson.decode(ARGV[2])) do redis.call('HSET', KEYS[1], field, value) end
redis.call('SADD', KEYS[2], ARGV[1])
return 1
