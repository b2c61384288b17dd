--[[
  Hands the running jobs whose timeout has passed to one sweep: each one's entry moves a retry
  period on rather than away, so that a sweep that dies before it has judged the job's pending
  tiles leaves it to the next after that period (and the tiles of a job still running past its
  timeout are judged again each period). A job that ends, or is paused, leaves the index itself
  (includes/jobs.lua).
  Input:
    KEYS[1] running jobs by deadline
    ARGV[1] now (ms)
    ARGV[2] retry period (ms)
    ARGV[3] most jobs to take
  Output:
    the jobs taken
]]
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, job in ipairs(due) do redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[1]) + tonumber(ARGV[2]), job) end
return due
