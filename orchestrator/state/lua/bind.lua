--[[
  Binds replica slot n of a task to a worker whose poll fetched the slot's BullMQ job. A holder
  still on record lost its lease (BullMQ found the slot stalled): it timed out.
  Input:
    KEYS[1] task
    KEYS[2] task replicas
    KEYS[3] worker
    KEYS[4] job
    ARGV[1] task id
    ARGV[2] slot number n
    ARGV[3] worker id
    ARGV[4] new replica id (random, opaque)
    ARGV[5] now (ms)
    ARGV[6] deadline (ms)
    ARGV[7] queue name
    ARGV[8] 1 when the queue is an arbiter queue (the operator's trusted workers only)
    ARGV[9] stake locked per replica (µc)
    ARGV[10] most replicas an untrusted worker may hold at once
    ARGV[11] most tiles of one job an untrusted worker may take
    ARGV[12] missed-deadline penalty (µc)
    ARGV[13] least stake an untrusted worker must hold to take work (µc)
    ARGV[14] 1 to only say whether the worker could take it ('eligible'), changing nothing
    ARGV[15] the last market clearing's price (ticks per RU), or '' when nothing crossed
    ARGV[16] the most rays one pixel-sample can trace (shared/render-units.ts)
    ARGV[17] the forward window delivering now (its start), when the worker owes it, or ''
    ARGV[18] that window's price (ticks per RU)
    ARGV[19] that window's end (ms)
    ARGV[20] the last price that traded (ticks per RU), or '' when none ever did
    ARGV[21] 1 when the owing worker saw every slot it may take and none of its buyers' it could take
    ARGV[22] when its lease ends unless renewed (ms), or '' to record none
    ARGV[23] the most a market order pays now (ticks per RU: its collar), or '' for any price
  Output:
    {'bound' | 'again', record JSON, frame, rect JSON, scene CID} or {reason}: 'missing',
    'unknown', 'obsolete', 'resolved', 'held' (its owner paused the job), {'wrongclass', the tile's class
    ('' for the shared queue)}, {'leased', when another holder's live lease ends (ms)},
    'ineligible' (a class or queue not its own, a class set aside for the tile, or a tile it answered), 'letgo' (a tile whose
    replica it let go), 'blacklisted' (caught on this job), 'nostake', 'busy', 'share' (its share
    of the job taken, some of it by replicas it let go), 'sharedone' (its share taken by work it
    did or holds),
    'paused' (the job's bid, or a market order's collar, is under the price), 'pricedout' (the worker's ask is over the price
    or the job's bid, or its ask alone is more than the job's escrow covers before any price),
    'unfunded' (the job's escrow cannot cover the tile at the price) — each of these three with a
    second value, 1 when the slot was a buyer's of the window the worker owes that the buyer's
    prepaid share does not cover, and the worker asks no more than the window's price (its
    buyer's doing, not the provider's), else 0 —
    or {'eligible', the price (ticks per RU) it would trade at} for a dry run
]]
-- @include holders
-- @include market
-- @include votes
local taskId, n, workerId, rid = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = tonumber(ARGV[5])
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
if redis.call('EXISTS', KEYS[3]) == 0 then return {'unknown'} end
local t = redis.call('HMGET', KEYS[1], 'state', 'class', 'frame', 'rect', 'job', 'excluded')
local jobId = t[5]
local j = redis.call('HMGET', KEYS[4], 'state', 'scene', 'paused')
local existing = redis.call('HGET', KEYS[2], n)
local r = false
if existing then r = cjson.decode(existing) end
-- A second copy of a slot (a crash between moving it and its tile losing its class, say): its
-- holder's lease is live, so it did not lapse — timing the holder out would punish a worker that
-- beats, a cancelled job's draining tile's included. The copy waits until the lease ends (an
-- attacker's review).
if r and r.state == 'assigned' and r.leaseUntil and now < r.leaseUntil and r.worker ~= workerId then
  return {'leased', r.leaseUntil}
end
if j[1] ~= 'running' or t[1] ~= 'pending' then
  -- The slot is dropped: it will never answer, so it is no longer outstanding (a reopened task
  -- issues what it needs afresh).
  if not r or r.state == 'assigned' or gaveUp(r) then
    redis.call('HINCRBY', KEYS[1], 'outstanding', -1)
  end
  if r and r.state == 'assigned' then
    letGo(r, 'timedout', now, tonumber(ARGV[12]))
    redis.call('HSET', KEYS[2], n, cjson.encode(r))
    -- A draining tile (includes/drain.lua) is judged once its held replicas are in or let go.
    if redis.call('HGET', KEYS[1], 'draining') == '1' then redis.call('ZADD', K.tasksIdle, now, taskId) end
  end
  return {'obsolete'}
end
if j[3] == '1' then return {'held'} end
-- A slot left in a class's queue by a tile that lost its class (holders.lua unpinClass; a poll
-- held it while the rest moved): it goes back to the shared queue ('slots', dispatch.ts), or only
-- that class would ever see it.
if t[2] == '' and ARGV[7] ~= 'slots' and ARGV[8] ~= '1' then return {'wrongclass', ''} end
local w = redis.call('HMGET', KEYS[3], 'class', 'classState', 'trusted', 'inFlight')
if w[2] ~= 'established' then return {'ineligible'} end
-- Named, so that the caller moves the slot to that class's queue (dispatch.ts).
if t[2] ~= '' and t[2] ~= w[1] then return {'wrongclass', t[2]} end
-- A class the tile starved in is set aside for it (reclass.lua).
if t[6] then
  for _, c in ipairs(cjson.decode(t[6])) do
    if c == w[1] then return {'ineligible'} end
  end
end
local trusted = w[3] == '1'
if ARGV[8] == '1' and not trusted then return {'ineligible'} end
if r and r.state == 'assigned' and r.worker == workerId then return {'again', existing, t[3], t[4], j[2]} end
if r and r.state ~= 'assigned' and not gaveUp(r) then return {'resolved'} end
if redis.call('SISMEMBER', K.jobBlacklist(jobId), workerId) == 1 then return {'blacklisted'} end
local votes = votesOn(KEYS[2])
if not mayVote(votes, workerId, trusted) then
  -- One that answered the tile may not vote twice; one that let its replica go chose to.
  if votes[workerId] == 'answered' then return {'ineligible'} end
  return {'letgo'}
end
local share = K.jobShare(jobId)
if not trusted then
  if tonumber(w[4] or '0') >= tonumber(ARGV[10]) then return {'busy'} end
  if not canBack(workerId, tonumber(ARGV[9]), tonumber(ARGV[13])) then return {'nostake'} end
  if tonumber(redis.call('HGET', share, workerId) or '0') >= tonumber(ARGV[11]) then
    -- Spent in part on replicas it let go: its own doing. Else on work it did or does: the cap's.
    if tonumber(redis.call('HGET', K.jobShareLetGo(jobId), workerId) or '0') > 0 then return {'share'} end
    return {'sharedone'}
  end
end
-- Who pays, at what price, committing the most the tile can cost (includes/escrow.lua). The
-- treasury pays the operator's own machines for the farm's own work: a trusted worker's audit that
-- stocks the class's known answers, and a trusted worker's render of a tile reopened as suspect
-- (an arbiter; the requester paid for the tile once already). A stocking slot a key got (re-issued
-- to the class's queue by recovery, say) is the job's. A key's render of a reopened tile is the job's,
-- as any replica a dispute needs: the treasury had paid those too, and an attacker's keys
-- answering its own job's reopened tiles again drained it (test/adversary/backtrack-pay.test.ts).
-- A provider that sold capacity for the window delivering now, while it owes some, serves a buyer
-- of that window at the window's price out of the buyer's prepaid share (market/forwards.ts).
local farmWork = redis.call('HMGET', KEYS[1], 'suspect', 'stockSlot')
local farmOwes = trusted and (farmWork[2] == n or farmWork[1] == '1')
local rays = raysOf(t[4], KEYS[4], tonumber(ARGV[16]))
-- A stalled holder's commitment to a pot is voided below, when its slot changes hands.
local function freedIn(p)
  if r and r.state == 'assigned' and r.pot == p then return commitOf(r) end
  return 0
end
local payer, pot, tradedAt, cost = nil, jobId, 0, 0
-- An owing provider given other work than its buyers' is excused for its time only when they
-- had none it could take (a buyer's slot may wait behind more than its scan looked at), or given
-- its buyer's work that the buyer's prepaid share cannot pay for.
local excuse, heldIn, uncovered = nil, nil, 0
local window = ARGV[17]
if window ~= '' and not farmOwes and now < tonumber(ARGV[19]) then
  local owed = tonumber(redis.call('HGET', K.forwardOwed(window), workerId) or '0')
  local delivered = tonumber(redis.call('HGET', K.forwardDelivered(window), workerId) or '0')
  local buyerPot = window .. ':' .. redis.call('HGET', KEYS[4], 'owner')
  if redis.call('EXISTS', K.forwardPot(buyerPot)) == 0 then
    local holding = tonumber(redis.call('HGET', K.forwardHeld(window), workerId) or '0') > 0
    if ARGV[21] == '1' and not holding then excuse = window end
  elseif owed > delivered then
    heldIn = window
    local forwardCost = mulDiv(rays, tonumber(ARGV[18]), true)
    if covers(K.forwardPot(buyerPot), forwardCost - freedIn(buyerPot)) then
      payer, pot, tradedAt, cost = 'forward', buyerPot, tonumber(ARGV[18]), forwardCost
    else
      -- Its buyer's prepaid share cannot cover this tile's most (larger tiles than it reserved):
      -- the tile goes at the spot price, and the provider, serving its buyer, is excused for it —
      -- or, where the spot market refuses the trade, for the time the buyer's work cannot be
      -- served (dispatch.ts: a buyer bidding under the provider's ask had taken its collateral).
      excuse, uncovered = window, 1
    end
  end
end
if not payer then
  local ask = tonumber(redis.call('HGET', KEYS[3], 'ask') or '')
  local price = tonumber(ARGV[15])
  local traded = tonumber(ARGV[20])
  local refused = marketRefuses(bidOf(KEYS[4], ARGV[23], farmOwes), ask, price)
  -- Not its buyer's doing where its own ask is over the price it sold the window at.
  if ask and uncovered == 1 and ask > tonumber(ARGV[18]) then uncovered = 0 end
  if refused then return {refused, uncovered} end
  tradedAt = price or ask or 0
  -- The farm pays for its own work at no more than the last price that traded, never at an ask alone.
  if farmOwes then payer, tradedAt = 'treasury', math.min(tradedAt, traded or 0)
  else
    payer, cost = 'job', mulDiv(rays, tradedAt, true)
    -- Before any price, the cost is the worker's own ask: a key asking a fortune must not park
    -- every job's slots as unfunded for the workers behind it.
    if not covers(KEYS[4], cost - freedIn(jobId)) then return {price and 'unfunded' or 'pricedout', uncovered} end
  end
end
if ARGV[14] == '1' then return {'eligible', tradedAt} end
local locked = 0
if not trusted then
  redis.call('HINCRBY', share, workerId, 1)
  locked = tonumber(ARGV[9])
  lockStake(workerId, locked)
end
local previous = {}
if r then
  if r.state == 'assigned' then letGo(r, 'timedout', now, tonumber(ARGV[12])) end
  previous = r.previous or {}
  r.previous = nil
  table.insert(previous, r)
end
if cost > 0 then redis.call('HINCRBY', potKey(payer, pot), 'committed', cost) end
local fresh = {rid = rid, n = tonumber(n), worker = workerId, state = 'assigned', assignedAt = now,
  deadline = tonumber(ARGV[6]), queue = ARGV[7], scene = j[2], locked = locked, job = jobId, payer = payer,
  pot = pot, price = tradedAt, commit = money(cost)}
-- Counted by the window: held until it answers or is let go (includes/holders.lua
-- answerForward), excused out until it is judged or let go (settleExcuse).
if heldIn then
  fresh.heldIn = heldIn
  redis.call('HINCRBY', K.forwardHeld(heldIn), workerId, 1)
end
if excuse then
  fresh.excuse, fresh.excuseEnd, fresh.excusedOut = excuse, tonumber(ARGV[19]), true
  redis.call('HINCRBY', K.forward(excuse), 'excusedOut', 1)
end
if ARGV[8] == '1' then fresh.arbiter = true end
-- Held: not what the job bids for in the book (market/book.ts remainingRays) until it is let go
-- or answered; marked, so that one bound before the count was kept is never taken off it.
fresh.countedOut = true
if ARGV[22] ~= '' then fresh.leaseUntil = tonumber(ARGV[22]) end
if #previous > 0 then fresh.previous = previous end
local record = cjson.encode(fresh)
redis.call('HSET', KEYS[2], n, record)
redis.call('SET', K.replica(rid), taskId .. ' ' .. n)
if t[2] == '' then redis.call('HSET', KEYS[1], 'class', w[1]) end
count(workerId, 'inFlight', 1)
redis.call('HINCRBY', KEYS[4], 'replicasOut', 1)
redis.call('SADD', K.workerActive(workerId), rid)
return {'bound', record, t[3], t[4], j[2]}
