--[[
  Who could still take a replica of a task: trusted workers of its class seen within the online
  window that may still vote on it (votes.lua), and eligible workers (established in the class,
  not blacklisted for the job, may still vote, with free stake, under the job's share cap and an
  ask the job takes (includes/market.lua askRefused), or trusted) — what bind.lua would allow —
  among those taking work in the window (keys.ts classWorking: a key that only beats is online but takes
  nothing, and had kept a tile starved in its class from being opened to the others; so had one
  asking more than the job pays). Stops at the first eligible worker (verdicts ask only whether
  there is one) and looks at most at the 256 that took work last, so its cost does not grow with
  the farm; when all 256 cannot take the tile it does not know, and says one can: keys flooding
  the set (64 asking a fortune had hidden every honest worker, a review found, and 256 holding a
  replica each and beating, a second) make a tile wait for its job's timeout, never have it
  decided, or its audit skipped, on their word.
  Input:
    KEYS[1] class's workers taking work, by when they last did
    KEYS[2] class's trusted workers by last seen
    KEYS[3] job blacklist
    KEYS[4] job share
    KEYS[5] task replicas
    KEYS[6] job
    KEYS[7] task
    ARGV[1] class id
    ARGV[2] seen since (ms)
    ARGV[3] stake locked per replica (µc)
    ARGV[4] most tiles of one job an untrusted worker may take
    ARGV[5] least stake an untrusted worker must hold to take work (µc)
    ARGV[6] the last market clearing's price (ticks per RU), or '' when nothing crossed
    ARGV[7] the most a market order pays now (ticks per RU: its collar), or '' for any price
    ARGV[8] the most rays one pixel-sample can trace (shared/render-units.ts)
  Output:
    {trusted workers available, 1 when an eligible worker is available, else 0}
]]
-- @include market
-- @include votes
if redis.call('EXISTS', KEYS[6]) == 0 or redis.call('EXISTS', KEYS[7]) == 0 then return {0, 0} end
local votes = votesOn(KEYS[5])
local bid, price = bidOf(KEYS[6], ARGV[7], false), tonumber(ARGV[6])
local rays = raysOf(redis.call('HGET', KEYS[7], 'rect'), KEYS[6], tonumber(ARGV[8]))
local trusted = 0
for _, w in ipairs(redis.call('ZREVRANGEBYSCORE', KEYS[2], '+inf', ARGV[2], 'LIMIT', 0, 64)) do
  if mayVote(votes, w, true) and redis.call('SISMEMBER', KEYS[3], w) == 0 then trusted = trusted + 1 end
end
local eligible = 0
local SCANNED = 256
local working = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', ARGV[2], 'LIMIT', 0, SCANNED)
for _, w in ipairs(working) do
  if redis.call('SISMEMBER', KEYS[3], w) == 0 then
    local h = redis.call('HMGET', K.worker(w), 'class', 'classState', 'trusted', 'stake', 'locked', 'unbonding', 'ask')
    if h[1] == ARGV[1] and h[2] == 'established' and mayVote(votes, w, h[3] == '1') then
      local free = tonumber(h[4] or '0') - tonumber(h[5] or '0') - tonumber(h[6] or '0')
      local staked = free >= tonumber(ARGV[3]) and tonumber(h[4] or '0') >= tonumber(ARGV[5])
      local priced = not askRefused(KEYS[6], bid, tonumber(h[7] or ''), price, rays)
      if h[3] == '1' or (staked and priced and tonumber(redis.call('HGET', KEYS[4], w) or '0') < tonumber(ARGV[4])) then
        eligible = eligible + 1
      end
    end
  end
  if eligible > 0 then break end
end
if #working == SCANNED then eligible = 1 end
return {trusted, eligible}
