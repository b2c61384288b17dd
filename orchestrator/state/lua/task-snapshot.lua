--[[
  Everything a verdict reads, at one instant: the task, its replicas, its job's state and timeout,
  when the task's next look is scheduled (a verdict with nothing to do takes it out only if it is
  still that one: idle-forget.lua), and the records of the workers whose word it weighs — each voting result's (submitted or valid) and
  each holder's that gave a slot up (failed or timed out), as verdict/runner.ts `facts` weighs them
  (it reads any it lacks itself). A script rather than MULTI: one command for the client to
  send and parse, not one a worker.
  Input:
    KEYS[1] task
    KEYS[2] task replicas
    KEYS[3] job
    ARGV[1] task id
  Output:
    {task fields (HGETALL), replica fields (HGETALL), {job state, job deadlineAt},
     {worker fields (HGETALL), …} (each worker once), its score in the tasks due a look or false}
]]
local replicas = redis.call('HGETALL', KEYS[2])
local workers, seen = {}, {}
local function weigh(worker)
  if worker and not seen[worker] then
    seen[worker] = true
    table.insert(workers, redis.call('HGETALL', K.worker(worker)))
  end
end
for i = 2, #replicas, 2 do
  local r = cjson.decode(replicas[i])
  if not r.spot then
    if r.cid and (r.state == 'submitted' or r.state == 'valid') then weigh(r.worker) end
    if r.state == 'failed' or r.state == 'timedout' then weigh(r.worker) end
    for _, h in ipairs(r.previous or {}) do
      if h.state == 'failed' or h.state == 'timedout' then weigh(h.worker) end
    end
  end
end
return {redis.call('HGETALL', KEYS[1]), replicas, redis.call('HMGET', KEYS[3], 'state', 'deadlineAt'), workers,
  redis.call('ZSCORE', K.tasksIdle, ARGV[1])}
