--[[
  Who could still take a replica of a task: trusted workers of its class seen within the online
  window that may still vote on it (votes.lua), and eligible workers (established in the class,
  not blacklisted for the job, may still vote, with free stake and under the job's share cap, or
  trusted) — what bind.lua would allow — that take work: an untrusted one counts only while it
  holds a replica or looked for work within the window (its class's queue comes first in a look,
  so one that looked since would have been given the tile). A key that only beats is online but
  takes nothing, and had kept a tile starved in its class from being opened to the others.
  Scans at most 64 of the most recently seen, so its cost does not grow with the farm.
  Input:
    KEYS[1] class's workers by last seen
    KEYS[2] class's trusted workers by last seen
    KEYS[3] job blacklist
    KEYS[4] job share
    KEYS[5] task replicas
    ARGV[1] class id
    ARGV[2] seen since (ms)
    ARGV[3] stake locked per replica (µc)
    ARGV[4] most tiles of one job an untrusted worker may take
    ARGV[5] least stake an untrusted worker must hold to take work (µc)
  Output:
    {trusted workers available, eligible workers available (counting stops at 8)}
]]
-- @include votes
local votes = votesOn(KEYS[5])
local trusted = 0
for _, w in ipairs(redis.call('ZREVRANGEBYSCORE', KEYS[2], '+inf', ARGV[2], 'LIMIT', 0, 64)) do
  if mayVote(votes, w, true) and redis.call('SISMEMBER', KEYS[3], w) == 0 then trusted = trusted + 1 end
end
local eligible = 0
for _, w in ipairs(redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', ARGV[2], 'LIMIT', 0, 64)) do
  if redis.call('SISMEMBER', KEYS[3], w) == 0 then
    local h = redis.call('HMGET', K.worker(w), 'class', 'classState', 'trusted', 'stake', 'locked', 'unbonding', 'inFlight', 'lookedAt')
    if h[1] == ARGV[1] and h[2] == 'established' and mayVote(votes, w, h[3] == '1') then
      local free = tonumber(h[4] or '0') - tonumber(h[5] or '0') - tonumber(h[6] or '0')
      local staked = free >= tonumber(ARGV[3]) and tonumber(h[4] or '0') >= tonumber(ARGV[5])
      local working = tonumber(h[7] or '0') > 0 or tonumber(h[8] or '0') >= tonumber(ARGV[2])
      if h[3] == '1' or (staked and working and tonumber(redis.call('HGET', KEYS[4], w) or '0') < tonumber(ARGV[4])) then
        eligible = eligible + 1
      end
    end
  end
  if eligible >= 8 then break end
end
return {trusted, eligible}
