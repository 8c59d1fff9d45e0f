--[[
  Shared by account-state.lua and entity-state.lua (included where the "@include" line stands, by
  platform/redis.ts at load time). Event-time sliding windows of ONE entity, all in one hash (its
  {hash tag} is the entity's). The pure reference is domain/entity-features.ts.

  State hash fields (the key expires ARGV[2] ms after its last update):
    h                 head: the highest event time applied
    n mu m2           running amount count, mean, M2 (Welford)
    lt la lo          time, latitude, longitude of the latest located event (by event time)
    <w>t              window w's newest bucket index (index = floor(time / bucketMs))
    <w>c <w>s         window w's count and sum (integer minor units)
    <w>M <w>K         msgpack maps merchant -> live buckets holding it, country -> same (distinct
                      counts are their sizes; they stay small: one entity meets few of either)
    <w>:<i>           bucket i of window w, msgpack { count, sum, {merchant=1...}, {country=1...} }
  Windows are evaluated at the head. Moving the head evicts whole buckets (each once), read with
  one HMGET only when the head crosses a bucket boundary. Per update: one or two HMGET, one HSET,
  at most one HDEL and one PEXPIRE - the cost of a Lua redis.call dominates, so few of them.
]]
local function parse_windows(spec)
  local ws = {}
  for bms, n in string.gmatch(spec, '(%d+):(%d+)') do
    ws[#ws + 1] = { bms = tonumber(bms), n = tonumber(n) }
  end
  return ws
end

local function fmt(x)
  return string.format('%.17g', x)
end

local function int(x)
  return string.format('%d', x)
end

local function unpack_map(raw)
  if not raw then return {} end
  return cmsgpack.unpack(raw)
end

local function map_size(m)
  local k = 0
  for _ in pairs(m) do k = k + 1 end
  return k
end

local function haversine_km(lat1, lon1, lat2, lon2)
  local rad = math.pi / 180
  local dlat = (lat2 - lat1) * rad
  local dlon = (lon2 - lon1) * rad
  local a = math.sin(dlat / 2) ^ 2 + math.cos(lat1 * rad) * math.cos(lat2 * rad) * math.sin(dlon / 2) ^ 2
  return 2 * 6371.0088 * math.asin(math.min(1, math.sqrt(a)))
end

local function release(map, members)
  for m in pairs(members) do
    local left = (map[m] or 0) - 1
    if left <= 0 then map[m] = nil else map[m] = left end
  end
end

--[[
  Applies one event (unless it is late or stale: then it only reads) and returns the entity's
  features as a JSON array:
    per window: count, sum, distinct merchants, distinct countries (after this event)
    then: amount n, amount mean, amount std (sample), ms since the previous event (head),
          km from the latest located event, km/h from it (null when unknown; under 1 s counts as 1 s)
  ev = { t, amount (number or nil), merchant, country, lat (or nil), lon (or nil), late }
]]
local function apply_event(c, ev)
  local key, ws = c.key, c.ws
  local fields = { 'h', 'n', 'mu', 'm2', 'lt', 'la', 'lo' }
  local t = ev.t
  for w = 1, #ws do
    local p = tostring(w)
    fields[#fields + 1] = p .. 't'
    fields[#fields + 1] = p .. 'c'
    fields[#fields + 1] = p .. 's'
    fields[#fields + 1] = p .. 'M'
    fields[#fields + 1] = p .. 'K'
    fields[#fields + 1] = p .. ':' .. int(math.floor(t / ws[w].bms))
  end
  local v = redis.call('HMGET', key, unpack(fields))
  local head = tonumber(v[1])
  local n, mu, m2 = tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0
  local new_head = head and math.max(head, t) or t
  -- An event older than the largest window at the head can change no window: read only.
  local largest = ws[#ws]
  local stale = math.floor(t / largest.bms) <= math.floor(new_head / largest.bms) - largest.n
  local apply = (not ev.late) and not stale

  local win = {}
  local evict_fields = {}
  for w = 1, #ws do
    local b = 7 + (w - 1) * 6
    local x = {
      p = tostring(w),
      newest = tonumber(v[b + 1]),
      c = tonumber(v[b + 2]) or 0,
      s = tonumber(v[b + 3]) or 0,
      M = unpack_map(v[b + 4]),
      K = unpack_map(v[b + 5]),
      bucket_raw = v[b + 6],
      bi = math.floor(t / ws[w].bms),
      first = 0,
      last = -1,
    }
    if apply then
      local nb = ws[w].n
      local newest_new = math.floor(new_head / ws[w].bms)
      if x.newest and newest_new > x.newest then
        x.first = x.newest - nb + 1
        x.last = math.min(newest_new - nb, x.newest)
        for i = x.first, x.last do evict_fields[#evict_fields + 1] = x.p .. ':' .. int(i) end
      end
      x.moved = x.newest ~= newest_new
      x.newest = newest_new
      x.inside = x.bi > newest_new - nb
    end
    win[w] = x
  end

  local out = {}
  local hset = {}
  local hdel = {}
  if apply then
    local evicted = #evict_fields > 0 and redis.call('HMGET', key, unpack(evict_fields)) or {}
    local e = 0
    for w = 1, #ws do
      local x = win[w]
      for i = x.first, x.last do
        e = e + 1
        local raw = evicted[e]
        if raw then
          local bk = cmsgpack.unpack(raw)
          x.c = x.c - bk[1]
          x.s = x.s - bk[2]
          release(x.M, bk[3])
          release(x.K, bk[4])
          x.dirty = true
          hdel[#hdel + 1] = evict_fields[e]
          -- The target bucket cannot be among the evicted ones (it is inside the window).
        end
      end
      if x.inside then
        local bk = x.bucket_raw and cmsgpack.unpack(x.bucket_raw) or { 0, 0, {}, {} }
        bk[1] = bk[1] + 1
        x.c = x.c + 1
        if ev.amount then
          bk[2] = bk[2] + ev.amount
          x.s = x.s + ev.amount
        end
        if not bk[3][ev.merchant] then
          bk[3][ev.merchant] = 1
          x.M[ev.merchant] = (x.M[ev.merchant] or 0) + 1
          x.dirty = true
        end
        if not bk[4][ev.country] then
          bk[4][ev.country] = 1
          x.K[ev.country] = (x.K[ev.country] or 0) + 1
          x.dirty = true
        end
        hset[#hset + 1] = x.p .. ':' .. int(x.bi)
        hset[#hset + 1] = cmsgpack.pack(bk)
      end
      if x.moved then
        hset[#hset + 1] = x.p .. 't'
        hset[#hset + 1] = int(x.newest)
      end
      hset[#hset + 1] = x.p .. 'c'
      hset[#hset + 1] = int(x.c)
      hset[#hset + 1] = x.p .. 's'
      hset[#hset + 1] = int(x.s)
      if x.dirty then
        hset[#hset + 1] = x.p .. 'M'
        hset[#hset + 1] = cmsgpack.pack(x.M)
        hset[#hset + 1] = x.p .. 'K'
        hset[#hset + 1] = cmsgpack.pack(x.K)
      end
    end
  end
  for w = 1, #ws do
    local x = win[w]
    out[#out + 1] = x.c
    out[#out + 1] = x.s
    out[#out + 1] = map_size(x.M)
    out[#out + 1] = map_size(x.K)
  end

  if apply and ev.amount then
    n = n + 1
    local delta = ev.amount - mu
    mu = mu + delta / n
    m2 = m2 + delta * (ev.amount - mu)
  end
  out[#out + 1] = n
  out[#out + 1] = mu
  out[#out + 1] = n < 2 and 0 or math.sqrt(m2 / (n - 1))
  out[#out + 1] = head and (t - head) or cjson.null
  local lt, la, lo = tonumber(v[5]), tonumber(v[6]), tonumber(v[7])
  if lt and ev.lat then
    local km = haversine_km(la, lo, ev.lat, ev.lon)
    local hours = math.abs(t - lt) / 3600000
    out[#out + 1] = km
    -- Under a second apart counts as one second, so the speed stays finite.
    out[#out + 1] = km / math.max(hours, 1 / 3600)
  else
    out[#out + 1] = cjson.null
    out[#out + 1] = cjson.null
  end

  if apply then
    hset[#hset + 1] = 'h'
    hset[#hset + 1] = int(new_head)
    hset[#hset + 1] = 'n'
    hset[#hset + 1] = int(n)
    hset[#hset + 1] = 'mu'
    hset[#hset + 1] = fmt(mu)
    hset[#hset + 1] = 'm2'
    hset[#hset + 1] = fmt(m2)
    if ev.lat and (lt == nil or t >= lt) then
      hset[#hset + 1] = 'lt'
      hset[#hset + 1] = int(t)
      hset[#hset + 1] = 'la'
      hset[#hset + 1] = fmt(ev.lat)
      hset[#hset + 1] = 'lo'
      hset[#hset + 1] = fmt(ev.lon)
    end
    if #hdel > 0 then redis.call('HDEL', key, unpack(hdel)) end
    redis.call('HSET', key, unpack(hset))
    redis.call('PEXPIRE', key, c.state_ttl)
  end
  return cjson.encode(out)
end

-- Reads the i-th event (stride 9 from ARGV[4]): position, t, amount, merchant, country, lat, lon, late, extra.
local function event_at(i)
  local b = 4 + (i - 1) * 9
  return {
    position = ARGV[b],
    t = tonumber(ARGV[b + 1]),
    amount = tonumber(ARGV[b + 2]),
    merchant = ARGV[b + 3],
    country = ARGV[b + 4],
    lat = tonumber(ARGV[b + 5]),
    lon = tonumber(ARGV[b + 6]),
    late = ARGV[b + 7] == '1',
    extra = ARGV[b + 8],
  }
end

-- The layout both scripts share: KEYS[1] the entity's state hash, then one key per transaction.
local function read_call()
  local c = { ws = parse_windows(ARGV[3]), key = KEYS[1], txkeys = {} }
  for i = 2, #KEYS do c.txkeys[#c.txkeys + 1] = KEYS[i] end
  c.count = #c.txkeys
  c.tx_ttl = tonumber(ARGV[1])
  c.state_ttl = tonumber(ARGV[2])
  return c
end
