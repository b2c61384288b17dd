--[[
  A heartbeat: renews the lease of each replica the worker names that it still holds and whose
  lease has not lapsed, for a lease from now, never past the replica's deadline — a real
  replica's and a spot check's by the same rule (a spot check's lease entry, which the sweep
  times it out by, follows). A lapsed lease stays lapsed: the replica is no longer held, though
  the sweep or BullMQ's stalled check may not have got to it yet.
  Input:
    KEYS[1..n] each replica's task's replicas
    ARGV[1] worker id
    ARGV[2] now (ms)
    ARGV[3] lease (ms)
    ARGV[4..n+3] each replica's slot number
    ARGV[n+4..2n+3] each replica's id
  Output:
    {replica id, new lease end, …} of the replicas renewed
]]
local now = tonumber(ARGV[2])
local renewed = {}
for i = 1, #KEYS do
  local raw = redis.call('HGET', KEYS[i], ARGV[3 + i])
  local r = raw and cjson.decode(raw)
  local rid = ARGV[3 + #KEYS + i]
  if r and r.rid == rid and r.worker == ARGV[1] and r.state == 'assigned' and now < r.deadline
    and (r.leaseUntil == nil or now <= r.leaseUntil) then
    r.leaseUntil = math.min(r.deadline, now + tonumber(ARGV[3]))
    redis.call('HSET', KEYS[i], ARGV[3 + i], cjson.encode(r))
    if r.spot then redis.call('ZADD', K.spotLeases, 'XX', r.leaseUntil, rid) end
    table.insert(renewed, rid)
    table.insert(renewed, r.leaseUntil)
  end
end
return renewed
