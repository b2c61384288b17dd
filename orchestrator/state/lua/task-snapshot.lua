--[[
  Everything a verdict reads, at one instant: the task, its replicas, and its job's state and
  timeout. A script rather than MULTI: one command for the client to send and parse, not five.
  Input:
    KEYS[1] task
    KEYS[2] task replicas
    KEYS[3] job
  Output:
    {task fields (HGETALL), replica fields (HGETALL), {job state, job deadlineAt}}
]]
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]), redis.call('HMGET', KEYS[3], 'state', 'deadlineAt')}
