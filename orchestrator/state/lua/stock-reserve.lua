--[[
  Reserves a stocking audit of a task: one of the few a class may have out at once (each holds its
  tile's verdict until a trusted worker answers, so a class short of known answers must not send
  every verdict through its trusted workers), while the known answers and the audits out together
  are short of the target. A reservation lasts while its task is pending (settle.lua drops it at
  the verdict; one whose task failed, closed or was purged is dropped here), and expires after a
  replica's deadline in any case (an audit slot that was never dispatched).
  Input:
    KEYS[1] the class's known answers (spot pool)
    KEYS[2] the class's stocking audits out (task → when reserved)
    ARGV[1] task id
    ARGV[2] now (ms)
    ARGV[3] known answers the class is stocked to
    ARGV[4] most stocking audits out at once
    ARGV[5] how long a reservation lasts (ms)
  Output:
    1 when the task holds a reservation, else 0
]]
local now = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[5]))
for _, taskId in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if redis.call('HGET', K.task(taskId), 'state') ~= 'pending' then redis.call('ZREM', KEYS[2], taskId) end
end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 1 end
local out = redis.call('ZCARD', KEYS[2])
if out >= tonumber(ARGV[4]) or redis.call('ZCARD', KEYS[1]) + out >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[2], now, ARGV[1])
return 1
