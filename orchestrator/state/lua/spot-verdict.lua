--[[
  The verdict on a spot check: a match with the known answer is a passed check (paid like any
  valid replica, RU × the price it was assigned at, by the treasury: includes/escrow.lua, for at
  most the rays the verified render traced; and counted in its recent throughput:
  includes/reputation.lua), a mismatch a fault (the worker's stake is slashed to the treasury).
  It measures no speed: a check's answer is an anchored tile's, which the key that rendered it
  (or the requester that paid for it) knows, so a sibling key answers it in milliseconds. A check
  handed out in a buyer's slot of the window its provider owes counts there as delivered if it
  passed (spot.lua; includes/holders.lua settleStandIn).
  Runs once, when due: the record must still be 'submitted' and its verdict time (K.spotDue,
  submit.lua) reached — a worker uploading its result again must not hasten it.
  Input:
    KEYS[1] task replicas
    ARGV[1] slot number n
    ARGV[2] 1 when the result matched
    ARGV[3] now (ms)
    ARGV[4] share of the stake a fault loses (0..1)
    ARGV[5] task id
    ARGV[6] the fee, parts per million of what it is paid (kept as for any replica's pay)
  Output:
    1 when judged, 0 when already judged or not yet due
]]
-- @include holders
local r = cjson.decode(redis.call('HGET', KEYS[1], ARGV[1]))
if r.state ~= 'submitted' then return 0 end
local now = tonumber(ARGV[3])
local due = redis.call('ZSCORE', K.spotDue, r.rid)
if due and tonumber(due) > now then return 0 end
redis.call('ZREM', K.spotDue, r.rid)
-- Answered before due times existed: its lease entry stayed until the verdict.
redis.call('ZREM', K.spotLeases, r.rid)
unlockStake(r.worker, r.locked)
if ARGV[2] == '1' then
  r.state = 'valid'
  count(r.worker, 'valid', 1)
  countRecent(r.worker, now)
  passCheck(r.worker, r.assignedAt)
  -- A result judged within the tolerance (a provisional class) need not carry the known
  -- answer's ray count: it is paid for the rays the verified render traced, never more.
  r.rays = math.min(r.rays or 0, tonumber(redis.call('HGET', K.task(ARGV[5]), 'rays') or '0'))
  pay(r, now, tonumber(ARGV[6]))
else
  r.state = 'invalid'
  count(r.worker, 'invalid', 1)
  fault(r.worker, nil, now)
  slash(r.worker, tonumber(ARGV[4]), {}, r.rid, now)
  evidence(r.worker, {kind = 'outvoted', task = ARGV[5], at = now, cid = r.cid})
end
settleStandIn(r, r.state == 'valid' and r.rays or 0)
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(r))
return 1
