--[[
  Caps an account's ledger list at its newest entries; the account keeps the count of entries
  dropped, so every entry keeps its place in the account's history (ledger.ts pages by it).
  Balances live in the account hash and never depend on the list.
  Input:
    KEYS[1] ledger list
    KEYS[2] account hash
    ARGV[1] entries kept
  Output:
    entries dropped
]]
local kept = tonumber(ARGV[1])
local over = redis.call('LLEN', KEYS[1]) - kept
if over <= 0 then return 0 end
redis.call('LTRIM', KEYS[1], over, -1)
redis.call('HINCRBY', KEYS[2], 'ledgerDropped', over)
return over
