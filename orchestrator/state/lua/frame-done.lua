--[[
  Records a stitched frame; finishes the job when it was the last one. A stitch that lost a race
  with backtracking (a tile reopened since, or a newer completion exists) records nothing. A
  frame recorded appends frame.done to the webhook outbox (a reopened frame, once complete again,
  sends it again).
  Input:
    KEYS[1] job
    KEYS[2] job frame CIDs
    KEYS[3] job frames (verified tiles per frame)
    KEYS[4] job frame completions
    ARGV[1] frame
    ARGV[2] CID of the stitched PNG
    ARGV[3] frame count
    ARGV[4] tiles per frame
    ARGV[5] completion this stitch is for (a number, or a recovery tag)
  Output:
    1 when every frame is stitched, 0 when not yet, -1 when this stitch is stale
]]
-- @include outbox
if tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0') ~= tonumber(ARGV[4]) then return -1 end
if tonumber(ARGV[5]) and redis.call('HGET', KEYS[4], ARGV[1]) ~= ARGV[5] then return -1 end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then
  return redis.call('HLEN', KEYS[2]) == tonumber(ARGV[3]) and 1 or 0
end
local done = redis.call('HINCRBY', KEYS[1], 'framesDone', 1)
outbox(KEYS[1], 'frame.done', 'frame', ARGV[1])
return done == tonumber(ARGV[3]) and 1 or 0
