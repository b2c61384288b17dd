--[[
  running → done, only while every frame is still stitched: a tile reopened by backtracking in
  the meantime keeps the job running. Appends job.done to the webhook outbox.
  Input:
    KEYS[1] job
    ARGV[1] job id
    ARGV[2] frame count
    ARGV[3] now (ms)
    ARGV[4] CID of the animation, or ''
  Output:
    1 when finished
]]
-- @include jobs
-- @include outbox
if redis.call('HGET', KEYS[1], 'state') ~= 'running' or tonumber(redis.call('HGET', KEYS[1], 'framesDone')) ~= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'done', 'finishedAt', ARGV[3], 'animation', ARGV[4])
deactivate(ARGV[1], ARGV[3])
outbox(KEYS[1], 'job.done', 'state', 'done')
return 1
