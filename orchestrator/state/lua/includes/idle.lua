--[[
  Time a provider that owes a forward window spent able to work with none of its buyers' work to
  do: what excuses it from a shortfall (market/forwards.ts). Stretches of time are counted once
  however many of its polls or replicas overlap them: `<worker>:until` marks how far its idle
  time is counted. Returns the ms it added.
]]
local function recordIdle(key, worker, from, to)
  local covered = tonumber(redis.call('HGET', key, worker .. ':until') or '0')
  local start = math.max(from, covered)
  local added = math.max(0, to - start)
  if added > 0 then redis.call('HINCRBY', key, worker, added) end
  if to > covered then redis.call('HSET', key, worker .. ':until', to) end
  return added
end
