--[[
  Records one market clearing, once per interval: a second orchestrator that cleared the same
  interval (its lease lapsed mid-clearing) records nothing. Clearings older than the history kept
  are dropped. The last price that traded is kept apart: what the farm pays for its own work at
  (spot checks, re-renders) and values collateral at, whatever later intervals did not cross or
  traded too little to name it (market/history.ts tradedPrice: the last hour's index).
  Input:
    KEYS[1] clearings by interval start
    KEYS[2] last clearing
    ARGV[1] interval start (ms)
    ARGV[2] history entry JSON {at, price, volume}
    ARGV[3] last clearing JSON, with its curves
    ARGV[4] oldest interval start kept (ms)
    ARGV[5] the clearing's price (ticks per RU) as the last that traded, or '' to leave it
  Output:
    1 when recorded, 0 when the interval was already
]]
if redis.call('ZCOUNT', KEYS[1], ARGV[1], ARGV[1]) > 0 then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
redis.call('SET', KEYS[2], ARGV[3])
if ARGV[5] ~= '' then redis.call('SET', K.marketTraded, ARGV[5]) end
return 1
