--[[
  The webhook outbox (orchestrator/webhooks/): an event about a job is appended to a stream by the
  script that makes it happen, so it is delivered if and only if it happened, however the
  orchestrator dies afterwards. Only the events of owners with a webhook are kept; delivery deletes
  each entry once it is queued, and the cap, for all owners together, bounds the stream should
  delivery stop altogether: then the oldest entries are trimmed unsent.
]]
local OUTBOX_CAP = 100000
-- jobKey: the job's hash; event: a WebhookEventType; ...: more field, value pairs.
local function outbox(jobKey, event, ...)
  local j = redis.call('HMGET', jobKey, 'id', 'owner')
  if not j[2] or redis.call('EXISTS', K.webhooksOf(j[2])) == 0 then return end
  redis.call('XADD', K.outbox, 'MAXLEN', '~', OUTBOX_CAP, '*', 'type', event, 'job', j[1], 'owner', j[2], ...)
end
