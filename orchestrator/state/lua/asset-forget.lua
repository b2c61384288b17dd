--[[
  Forgets an asset whose blob collection removed, unless it was uploaded again since the
  collection read what is referenced (that upload wrote the blob again: it stays an asset).
  Input:
    KEYS[1] asset index
    ARGV[1] asset CID
    ARGV[2] when the collection began (ms)
  Output:
    1 when forgotten, 0 when kept
]]
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return 0 end
if tonumber(string.match(entry, '^(%d+)')) >= tonumber(ARGV[2]) then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
