--[[
  Takes a task out of those with a look scheduled (the small-farm grace, recovery), unless its
  look was moved since a verdict read it: another change scheduled that one, and it stands.
  Input:
    KEYS[1] tasks with a look scheduled
    ARGV[1] task id
    ARGV[2] its score when the verdict read it
  Output:
    1 when taken out, else 0
]]
if redis.call('ZSCORE', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
return redis.call('ZREM', KEYS[1], ARGV[1])
