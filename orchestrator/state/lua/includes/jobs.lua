--[[
  A job counts against its owner's quotas (tasks and replicas in flight) exactly while it is in
  the active set; every transition in or out goes through these two functions.
]]
local function activate(job)
  if redis.call('SADD', K.jobsActive, job) == 1 then
    local j = redis.call('HMGET', K.job(job), 'owner', 'tilesTotal', 'quotaReplicas')
    redis.call('HINCRBY', K.owner(j[1]), 'tasks', tonumber(j[2] or '0'))
    redis.call('HINCRBY', K.owner(j[1]), 'replicas', tonumber(j[3] or '0'))
  end
end
local function deactivate(job)
  redis.call('ZREM', K.jobDeadlines, job)
  if redis.call('SREM', K.jobsActive, job) == 1 then
    local j = redis.call('HMGET', K.job(job), 'owner', 'tilesTotal', 'quotaReplicas')
    redis.call('HINCRBY', K.owner(j[1]), 'tasks', -tonumber(j[2] or '0'))
    redis.call('HINCRBY', K.owner(j[1]), 'replicas', -tonumber(j[3] or '0'))
  end
end
