--[[
  One vote per worker and task. A worker may not take a replica of a task it holds or answered
  another replica of, nor one it handed back or let time out: taking it again would tell a real
  replica (which comes back) from a spot check (which does not). The operator's trusted workers
  may take a tile again after a timeout or a render error, so that a one-worker farm finishes after
  a stall and retries an error (decide.ts counts the attempts).
]]
-- What each worker did on a task (earlier holders of a slot included): 'answered' if it gave a
-- result, else 'retry' if it only ever let replicas lapse or fail, else 'voted' (it holds one or
-- handed one back).
local function votesOn(replicasKey)
  local votes = {}
  for _, v in ipairs(redis.call('HVALS', replicasKey)) do
    local r = cjson.decode(v)
    for _, o in ipairs({r, unpack(r.previous or {})}) do
      if o.cid then votes[o.worker] = 'answered'
      elseif o.state == 'timedout' or o.state == 'failed' then votes[o.worker] = votes[o.worker] or 'retry'
      elseif votes[o.worker] ~= 'answered' then votes[o.worker] = 'voted' end
    end
  end
  return votes
end
local function mayVote(votes, worker, trusted)
  return votes[worker] == nil or (votes[worker] == 'retry' and trusted)
end
