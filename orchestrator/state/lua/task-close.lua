--[[
  Closes an ended job's draining tile whose results did not stand without more work
  (verdict/runner.ts): its replicas still out are cancelled, unpaid, as every other tile of the
  job was at its end.
  Input:
    KEYS[1] task
    ARGV[1] task id
    ARGV[2] version the decision was judged on
    ARGV[3] now (ms)
    ARGV[4] job id
  Output:
    1 when closed, 0 when the task changed meanwhile (judge again) or no longer drains
]]
-- @include drain
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[2] or redis.call('HGET', KEYS[1], 'draining') ~= '1' then return 0 end
closeTask(ARGV[1], ARGV[4], tonumber(ARGV[3]))
return 1
