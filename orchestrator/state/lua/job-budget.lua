--[[
  Raises a queued or running job's budget — what its owner has in it, held or paid out of its
  escrow — to a new total, moving the difference from the owner's balance into its escrow
  (includes/escrow.lua). A total, not an increment: a request sent again adds nothing. Raised, its
  bid stands anew (includes/jobs.lua bidAnew).
  Input:
    KEYS[1] job
    ARGV[1] job id
    ARGV[2] the caller's account (a requester id): only the job's owner funds it
    ARGV[3] the new budget (µc)
    ARGV[4] now (ms)
  Output:
    {'ok', budget}, {'same', budget} (it has that already), {'lower', budget} (it has more),
    {'missing'}, {'owner'} (the caller does not own it), {'ended', state} or {'funds', budget, balance}
]]
-- @include escrow
-- @include jobs
local j = redis.call('HMGET', KEYS[1], 'state', 'owner', 'budget', 'escrow', 'spent')
if not j[1] then return {'missing'} end
if j[2] ~= ARGV[2] then return {'owner'} end
if j[1] ~= 'queued' and j[1] ~= 'running' then return {'ended', j[1]} end
local budget = tonumber(j[3] or '')
if not budget then
  -- A job submitted before budgets could be raised kept no total: what it holds and has spent (a
  -- forward window's payments among it: they cannot be told apart now).
  budget = tonumber(j[4] or '0') + tonumber(j[5] or '0')
  redis.call('HSET', KEYS[1], 'budget', budget)
end
local target = tonumber(ARGV[3])
if target == budget then return {'same', money(budget)} end
if target < budget then return {'lower', money(budget)} end
local balance = available(ARGV[2], 'balance')
if balance < target - budget then return {'funds', money(budget), money(balance)} end
fundEscrow(ARGV[1], ARGV[2], target - budget, tonumber(ARGV[4]))
bidAnew(ARGV[1], ARGV[4])
return {'ok', money(target)}
