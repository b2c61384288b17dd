--[[
  Creates a job if its owner's quotas allow it (the owner's tasks and replicas in flight, over
  its active jobs, plus this job's must stay within the limits) and its balance covers the
  escrow, which it holds (includes/escrow.lua).
  Input:
    KEYS[1] job
    KEYS[2] all jobs
    KEYS[3] the owner's jobs
    ARGV[1] job id
    ARGV[2] job record JSON (flat fields; owner, tilesTotal and quotaReplicas among them)
    ARGV[3] created at (ms)
    ARGV[4] most tasks an owner may have in flight
    ARGV[5] most replicas an owner may have in flight
    ARGV[6] escrow to hold (µc)
  Output:
    'ok', the quota it would exceed ('tasks' | 'replicas'), or 'funds' (the balance is short)
]]
-- @include jobs
local job = cjson.decode(ARGV[2])
local owner = redis.call('HMGET', K.owner(job.owner), 'tasks', 'replicas')
if tonumber(owner[1] or '0') + job.tilesTotal > tonumber(ARGV[4]) then return 'tasks' end
if tonumber(owner[2] or '0') + job.quotaReplicas > tonumber(ARGV[5]) then return 'replicas' end
local escrow = tonumber(ARGV[6])
if available(job.owner, 'balance') < escrow then return 'funds' end
for field, value in pairs(job) do redis.call('HSET', KEYS[1], field, value) end
holdEscrow(ARGV[1], job.owner, escrow, tonumber(ARGV[3]))
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]), ARGV[1])
redis.call('ZADD', KEYS[3], tonumber(ARGV[3]), ARGV[1])
activate(ARGV[1])
return 'ok'
