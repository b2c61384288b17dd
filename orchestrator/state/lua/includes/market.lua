-- @include escrow
-- The spot market's rule for one job and one worker (bind.lua, availability.lua; market/interval.ts):
-- a job trades only with a worker whose ask its bid reaches, and at the interval's price, both sides
-- within their limits. A market order (no bid) bids its collar, a band over the higher of the price
-- that traded and the book's median ask, as the last clearing set it (market/book.ts collarOf;
-- before either existed, any price) — except for the farm's own work on its tiles, which the job
-- does not pay. No ask: any price. When the last interval did not cross, or before any clearing
-- has a price (a new farm: no provider's speed is measured yet), at the worker's ask.
local function bidOf(jobKey, collar, farmOwes)
  local bid = tonumber(redis.call('HGET', jobKey, 'bid') or '')
  if not bid and not farmOwes then bid = tonumber(collar) end
  return bid
end
-- 'paused' (the job's bid is under the price: nobody takes it), 'pricedout' (the worker's ask is
-- over the price or the job's bid), or nil: they trade.
local function marketRefuses(bid, ask, price)
  if bid and price and bid < price then return 'paused' end
  if ask and ((price and ask > price) or (bid and bid < ask)) then return 'pricedout' end
  return nil
end
-- The rays a replica of a tile (its rect's JSON) claims at most: the metered work it is paid for.
local function raysOf(rectJson, jobKey, maxRaysPerSample)
  local rect = cjson.decode(rectJson)
  return rect.width * rect.height * tonumber(redis.call('HGET', jobKey, 'spp')) * maxRaysPerSample
end
-- Whether the worker's ask alone keeps it from a replica of `rays` (bind.lua's 'pricedout'): over
-- the price or the job's bid, or, before any price, more than the job's escrow covers.
local function askRefused(jobKey, bid, ask, price, rays)
  if marketRefuses(bid, ask, price) == 'pricedout' then return true end
  return not price and ask ~= nil and not covers(jobKey, mulDiv(rays, ask, true))
end
