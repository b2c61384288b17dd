--[[
  Admits a delivery of an event to a hook into the hook's pending set, which caps how many
  deliveries one hook may have queued. Called before the delivery is queued, so a delivery is
  counted before it can end (ending removes it: state/webhooks.ts); an outbox entry handled again
  after a crash finds its delivery counted already, or its job queued already, and counts nothing
  twice. Entries older than a delivery can last (removed from the queue by hand) stop counting.
  Input:
    KEYS[1] the hook
    KEYS[2] the hook's pending deliveries
    KEYS[3] the delivery's BullMQ job hash
    ARGV[1] delivery job id
    ARGV[2] now (ms)
    ARGV[3] most pending deliveries per hook
    ARGV[4] age (ms) past which a pending entry no longer counts
  Output:
    'queue' (queue it: queueing it again is a no-op), 'full', or 'off' (the hook is disabled or gone)
]]
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'disabledAt') == 1 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 'off'
end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) or redis.call('EXISTS', KEYS[3]) == 1 then return 'queue' end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[2]) - tonumber(ARGV[4]))
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 'full' end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 'queue'
