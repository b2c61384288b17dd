--[[
  Backtracking weighed these tasks again: they leave the worker's vouched set, and the worker
  leaves the backtracks due unless it was caught again since the backtracking read it (that
  catch's own backtracking, or the sweep, weighs what it vouched for since).
  Input:
    KEYS[1] the worker's vouched tasks
    KEYS[2] backtracks due
    ARGV[1] worker id
    ARGV[2] when it was caught, as the backtracking read it ('' when it was not due)
    ARGV[3..] the tasks weighed
  Output:
    nothing
]]
-- A thousand at a time: unpack() of a whole big set would overflow Lua's stack.
for i = 3, #ARGV, 1000 do redis.call('SREM', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV))) end
local due = redis.call('ZSCORE', KEYS[2], ARGV[1])
if due and due == ARGV[2] then redis.call('ZREM', KEYS[2], ARGV[1]) end
