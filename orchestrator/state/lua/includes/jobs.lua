-- @include escrow
--[[
  A job counts against its owner's quotas (tasks and replicas in flight) exactly while it is in
  the active set; every transition in or out goes through these two functions. An ended job is
  indexed by when it ended, from which its retention period counts (retention.ts), and gives back
  the escrow its replicas out do not need.
]]
local function activate(job)
  redis.call('ZREM', K.jobsEnded, job)
  if redis.call('SADD', K.jobsActive, job) == 1 then
    local j = redis.call('HMGET', K.job(job), 'owner', 'tilesTotal', 'quotaReplicas')
    redis.call('HINCRBY', K.owner(j[1]), 'tasks', tonumber(j[2] or '0'))
    redis.call('HINCRBY', K.owner(j[1]), 'replicas', tonumber(j[3] or '0'))
  end
end
-- Starts (or restarts) a running job's timeout of `ms`; a paused job's waits until it is resumed
-- (job-pause.lua): what is left of it is kept in `deadlineLeft`, and no `deadlineAt` means none.
local function startClock(job, ms, now)
  local key = K.job(job)
  if redis.call('HEXISTS', key, 'paused') == 1 then
    redis.call('HSET', key, 'deadlineLeft', ms)
    redis.call('HDEL', key, 'deadlineAt')
    redis.call('ZREM', K.jobDeadlines, job)
    return
  end
  local deadline = tonumber(now) + ms
  redis.call('HSET', key, 'deadlineAt', deadline)
  redis.call('HDEL', key, 'deadlineLeft')
  redis.call('ZADD', K.jobDeadlines, deadline, job)
end
-- A job's bid takes part in a market clearing once it has stood a whole interval as it is
-- (market/interval.ts): from when the job starts running (or runs again, reopened), is released,
-- or its budget grows.
local function bidAnew(job, now)
  redis.call('HSET', K.job(job), 'bidSince', now)
end
local function deactivate(job, now)
  now = tonumber(now)
  redis.call('ZREM', K.jobDeadlines, job)
  -- An ended job is not paused: reopened by backtracking, it runs (and its clock with it).
  redis.call('HDEL', K.job(job), 'paused', 'deadlineLeft')
  redis.call('ZADD', K.jobsEnded, now, job)
  if redis.call('SREM', K.jobsActive, job) == 1 then
    local j = redis.call('HMGET', K.job(job), 'owner', 'tilesTotal', 'quotaReplicas')
    redis.call('HINCRBY', K.owner(j[1]), 'tasks', -tonumber(j[2] or '0'))
    redis.call('HINCRBY', K.owner(j[1]), 'replicas', -tonumber(j[3] or '0'))
  end
  refundUnused('job', job, now)
end
-- A job that ended before it was done: its tiles with replicas out drain (includes/drain.lua), and
-- it will not run again (reopen.lua). The same test in TypeScript: state/jobs.ts endedEarly.
local function endedEarly(state)
  return state == 'cancelled' or state == 'failed'
end
