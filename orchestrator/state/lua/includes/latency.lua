--[[
  How long real replicas' verdicts took after their upload, per class and standing, so that a
  spot check's verdict waits as long as a real one of a worker like its holder would: each of its
  effects (stake unlocked, counts, pay, credibility) then comes when a real replica's would, and
  its timing says nothing of what it was. The latest LATENCY_SAMPLES per (class, standing);
  trusted workers' are left out (they get no checks).
]]
local LATENCY_SAMPLES = 256
-- Standing: tiers of checks passed (k) where a real replica's verdict waits differently: 0 (its
-- result weighs nothing: it waits for others'), 1–3 (every verdict it supports is audited:
-- 3/k ≥ 1), 4–11, and 12 on (audits and spot checks rarer).
local function standingOf(worker)
  local k = tonumber(redis.call('HGET', K.worker(worker), 'passed') or '0')
  if k == 0 then return 0 elseif k <= 3 then return 1 elseif k <= 11 then return 2 end
  return 3
end
-- A real replica of a task of `class` judged at `now`.
local function recordVerdictLatency(r, class, now)
  if not r.submittedAt or redis.call('HGET', K.worker(r.worker), 'trusted') == '1' then return end
  local key = K.verdictLatencies(class .. ':' .. standingOf(r.worker))
  redis.call('LPUSH', key, now - r.submittedAt)
  redis.call('LTRIM', key, 0, LATENCY_SAMPLES - 1)
end
-- A latency for `worker`'s check in `class`: one recorded for its standing (the nearest standing
-- with any), picked by u and scaled by 0.5 + v — u and v uniform in [0, 1) from the caller's
-- CSPRNG — so that no check's verdict comes exactly as long after its upload as a real one's
-- did, which a key whose own latency was drawn would recognise; 0 when the class has none.
local function drawVerdictLatency(worker, class, u, v)
  local own = standingOf(worker)
  for d = 0, 3 do
    for _, s in ipairs({own - d, own + d}) do
      if s >= 0 and s <= 3 then
        local key = K.verdictLatencies(class .. ':' .. s)
        local len = redis.call('LLEN', key)
        if len > 0 then
          local sample = tonumber(redis.call('LINDEX', key, math.min(len - 1, math.floor(u * len))))
          return math.floor(sample * (0.5 + v))
        end
      end
    end
  end
  return 0
end
