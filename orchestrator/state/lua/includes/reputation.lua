--[[
  A worker's public counters, each kept in its hash and, where the leaderboard sorts by it, in a
  sorted-set index (K.workersBy(field)), so the leaderboard pages without scanning every worker.
]]
local INDEXED = {valid = true, invalid = true, timedOut = true, rejected = true, passed = true, faults = true}
local function count(worker, field, delta)
  local value = redis.call('HINCRBY', K.worker(worker), field, delta)
  if INDEXED[field] then redis.call('ZADD', K.workersBy(field), value, worker) end
  return value
end
-- The leaderboard's credibility order: trusted workers first, then by checks passed (CrW grows with k).
local function indexCredibility(worker)
  local w = redis.call('HMGET', K.worker(worker), 'trusted', 'passed')
  local score = tonumber(w[2] or '0')
  if w[1] == '1' then score = 1e15 end
  redis.call('ZADD', K.workersBy('credibility'), score, worker)
end
local function setPassed(worker, value)
  redis.call('HSET', K.worker(worker), 'passed', value)
  redis.call('ZADD', K.workersBy('passed'), value, worker)
  indexCredibility(worker)
end
-- Handed out at or before the worker was last caught (a verdict can come late): what it did then
-- says nothing of it now.
local function beforeCatch(worker, assignedAt)
  return assignedAt <= tonumber(redis.call('HGET', K.worker(worker), 'caughtAt') or '0')
end
-- A check against ground truth passed: Sarmenta's k grows, unless the work was handed out before
-- the worker was last caught.
local function passCheck(worker, assignedAt)
  if beforeCatch(worker, assignedAt) then return end
  count(worker, 'passed', 1)
  indexCredibility(worker)
end
-- Caught against ground truth at `now`: k resets in every class it has been in, the job (if
-- any) will not take it again, and what it vouched for is due to be weighed again (backtracking,
-- which the caller runs next and the sweep finishes if a crash stops it).
local function fault(worker, job, now)
  count(worker, 'faults', 1)
  -- What it delivered no longer weighs its ask in the book's median (market/book.ts medianAsk).
  redis.call('DEL', K.workerRecentPaid(worker))
  redis.call('HSET', K.worker(worker), 'caughtAt', now)
  redis.call('ZADD', K.backtracksDue, now, worker)
  setPassed(worker, 0)
  redis.call('DEL', K.workerClasses(worker))
  if job then redis.call('SADD', K.jobBlacklist(job), worker) end
end
-- Adds n at `now` to a ring of the last hour (shared/throughput.ts recentResults reads it): 60
-- fields, minute m (since the epoch) in field m % 60 as '<m> <count>', a field reused once its
-- minute is an hour old; the key goes an hour after its last count.
local function addRecent(key, now, n)
  local minute = math.floor(now / 60000)
  local field = minute % 60
  local held = redis.call('HGET', key, field)
  if held then
    local m, c = string.match(held, '^(%d+) (%d+)$')
    if tonumber(m) == minute then n = tonumber(c) + n end
  end
  redis.call('HSET', key, field, string.format('%d %d', minute, n))
  redis.call('PEXPIRE', key, 3600000)
end
-- An accepted result at `now` in the worker's recent throughput (the dashboard's).
local function countRecent(worker, now)
  addRecent(K.workerRecent(worker), now, 1)
end
-- A checked result's rays and the time from its hand-out to its upload, in the worker's measured
-- speed: what the market offers of it (market/book.ts).
local function measureSpeed(r, now)
  count(r.worker, 'raysDone', r.rays or 0)
  count(r.worker, 'renderMs', math.max(0, (r.submittedAt or now) - r.assignedAt))
end
-- What a requester paid for a result (includes/escrow.lua pay), in what its worker was paid in the
-- last hour: what the book's median ask weighs it by (book.ts medianAsk). Money, not rays nor
-- checked work, so that weight costs whoever buys it with its own keys the operator's fee on it at
-- any price: checked work alone let a requester have its own tiles checked at will by disputing
-- them while honest providers are audited at random, a few per cent of a proven one's (an attacker's
-- review owned the median with 0.5 % of a farm's output), and rays let a forward window priced at a
-- tick buy weight for nothing (another). What the fee was charged on, so a payment whose fee rounds
-- down to nothing weighs nothing (`feePpm` parts per million; with no fee, what was paid). The
-- treasury's payments are the farm's, not a purchase; work handed out before its worker was caught
-- weighs no more than the ring the catch wiped (fault).
local function countPaid(r, now, feePpm)
  if r.payer == 'treasury' or beforeCatch(r.worker, r.assignedAt) then return end
  local weight = tonumber(r.paid or '0')
  if feePpm > 0 then weight = math.floor(tonumber(r.fee or '0') * 1000000 / feePpm) end
  if weight > 0 then addRecent(K.workerRecentPaid(r.worker), now, weight) end
end
local function evidence(worker, entry)
  redis.call('LPUSH', K.workerEvidence(worker), cjson.encode(entry))
  redis.call('LTRIM', K.workerEvidence(worker), 0, 49)
end
