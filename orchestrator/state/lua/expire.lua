--[[
  A replica's holder lost its lease or passed its deadline without answering: it timed out
  (penalised). A real slot goes back to its queue through BullMQ's stalled check, which calls
  this; a spot check's lease is swept from K.spotLeases.
  Input:
    KEYS[1] task
    KEYS[2] task replicas
    ARGV[1] slot number n
    ARGV[2] replica id, or '' for whoever holds the slot
    ARGV[3] now (ms)
    ARGV[4] missed-deadline penalty (µc)
    ARGV[5] idle-check time for the task (ms)
    ARGV[6] task id
    ARGV[7] with no replica id: only a holder bound at or before this time (ms) lost its lease
  Output:
    {1, the class the tile no longer has ('' when it keeps its class)} when a holder timed out,
    else {0, ''}
]]
-- @include holders
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if not existing then return {0, ''} end
local r = cjson.decode(existing)
if r.state ~= 'assigned' or (ARGV[2] ~= '' and r.rid ~= ARGV[2]) then return {0, ''} end
-- A stalled-slot notice may arrive after another worker took the slot, or be of a second copy of
-- the slot (bind.lua 'leased'): never time out a holder bound since, or one whose lease is live.
if ARGV[2] == '' and (r.assignedAt > tonumber(ARGV[7]) or (r.leaseUntil and tonumber(ARGV[3]) < r.leaseUntil)) then return {0, ''} end
letGo(r, 'timedout', tonumber(ARGV[3]), tonumber(ARGV[4]))
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(r))
local unpinned = ''
if not r.spot and redis.call('HGET', KEYS[1], 'state') == 'pending' then
  lookAfterLetGo(KEYS[1], ARGV[6], tonumber(ARGV[5]), tonumber(ARGV[3]))
  unpinned = unpinClass(KEYS[1], KEYS[2])
end
return {1, unpinned}
