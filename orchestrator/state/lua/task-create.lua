--[[
  Creates a batch of a job's planned tasks, each pending with its first replicas issued; a task
  that exists already (planning run again after a crash) is left as it is. One call a batch: a
  command a field made planning a 4K frame of 64-px tiles cost the orchestrator 80–95 µs a task.
  Input:
    KEYS[1] job pending tasks
    KEYS[2..n+1] the tasks
    ARGV[1] job id
    ARGV[2] replicas issued to each
    ARGV[3] now (ms)
    ARGV[4..] five a task, in KEYS' order: id, frame, tile, rect (JSON), audit roll
  Output:
    how many tasks it created
]]
local created = 0
local ids = {}
for i = 2, #KEYS do
  local at = 4 + (i - 2) * 5
  ids[#ids + 1] = ARGV[at]
  if redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('HSET', KEYS[i], 'job', ARGV[1], 'frame', ARGV[at + 1], 'tile', ARGV[at + 2], 'rect', ARGV[at + 3], 'class', '',
      'state', 'pending', 'issued', ARGV[2], 'nextSlot', ARGV[2], 'outstanding', ARGV[2], 'version', 0,
      'auditRoll', ARGV[at + 4], 'progressAt', ARGV[3])
    created = created + 1
  end
end
redis.call('SADD', KEYS[1], unpack(ids))
return created
