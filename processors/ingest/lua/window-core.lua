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
  Windows are evaluated at the head. Moving the head evicts whole buckets (each once). A script call
  reads the state once, applies all its events in memory and writes once (load_state, apply_event,
  flush): Lua work and redis.call count per event are what limits throughput.
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
  The entity's state, read once per script call (one HMGET), changed in memory by every event of
  the call, written once at the end by flush() (one HSET, at most one HDEL, one PEXPIRE). Buckets
  are read when first needed and kept for the rest of the call.
]]
local function load_state(c)
  local ws = c.ws
  local fields = { 'h', 'n', 'mu', 'm2', 'lt', 'la', 'lo' }
  for w = 1, #ws do
    fields[#fields + 1] = w .. 't'
    fields[#fields + 1] = w .. 'c'
    fields[#fields + 1] = w .. 's'
    fields[#fields + 1] = w .. 'M'
    fields[#fields + 1] = w .. 'K'
  end
  local v = redis.call('HMGET', c.key, unpack(fields))
  local st = {
    head = tonumber(v[1]),
    n = tonumber(v[2]) or 0,
    mu = tonumber(v[3]) or 0,
    m2 = tonumber(v[4]) or 0,
    lt = tonumber(v[5]),
    la = tonumber(v[6]),
    lo = tonumber(v[7]),
    win = {},
    buckets = {}, -- field -> decoded bucket, or false when absent
    dirty_buckets = {},
    evicted = {},
    changed = false,
    located = false,
  }
  for w = 1, #ws do
    local b = 7 + (w - 1) * 5
    st.win[w] = {
      newest = tonumber(v[b + 1]),
      c = tonumber(v[b + 2]) or 0,
      s = tonumber(v[b + 3]) or 0,
      M = unpack_map(v[b + 4]),
      K = unpack_map(v[b + 5]),
    }
  end
  return st
end

-- Makes sure the given bucket fields are in st.buckets (one HMGET for the missing ones).
local function fetch_buckets(c, st, wanted)
  local missing = {}
  for _, f in ipairs(wanted) do
    if st.buckets[f] == nil then missing[#missing + 1] = f end
  end
  if #missing == 0 then return end
  local v = redis.call('HMGET', c.key, unpack(missing))
  for i, f in ipairs(missing) do
    st.buckets[f] = v[i] and cmsgpack.unpack(v[i]) or false
  end
end

--[[
  Applies one event to the in-memory state (unless it is late or stale: then it only reads) and
  returns the entity's features as a JSON array:
    per window: count, sum, distinct merchants, distinct countries (after this event)
    then: amount n, amount mean, amount std (sample), ms since the previous event (head),
          km from the latest located event, km/h from it (null when unknown; under 1 s counts as 1 s)
  ev = { t, amount (number or nil), merchant, country, lat (or nil), lon (or nil), late }
]]
local function apply_event(c, st, ev)
  local ws = c.ws
  local t = ev.t
  local head = st.head
  local new_head = head and math.max(head, t) or t
  -- An event older than the largest window at the head can change no window: read only.
  local largest = ws[#ws]
  local stale = math.floor(t / largest.bms) <= math.floor(new_head / largest.bms) - largest.n
  local apply = (not ev.late) and not stale

  if apply then
    local wanted = {}
    local plan = {}
    for w = 1, #ws do
      local x = st.win[w]
      local nb = ws[w].n
      local newest_new = math.floor(new_head / ws[w].bms)
      local first, last = 0, -1
      if x.newest and newest_new > x.newest then
        first = x.newest - nb + 1
        last = math.min(newest_new - nb, x.newest)
        for i = first, last do wanted[#wanted + 1] = w .. ':' .. int(i) end
      end
      local bi = math.floor(t / ws[w].bms)
      local inside = bi > newest_new - nb
      if inside then wanted[#wanted + 1] = w .. ':' .. int(bi) end
      plan[w] = { first = first, last = last, newest = newest_new, bi = bi, inside = inside }
    end
    fetch_buckets(c, st, wanted)
    for w = 1, #ws do
      local x, pl = st.win[w], plan[w]
      for i = pl.first, pl.last do
        local f = w .. ':' .. int(i)
        local bk = st.buckets[f]
        if bk then
          x.c = x.c - bk[1]
          x.s = x.s - bk[2]
          release(x.M, bk[3])
          release(x.K, bk[4])
          x.dirty = true
          st.buckets[f] = false
          st.dirty_buckets[f] = nil
          st.evicted[#st.evicted + 1] = f
        end
      end
      x.newest = pl.newest
      if pl.inside then
        local f = w .. ':' .. int(pl.bi)
        local bk = st.buckets[f]
        if not bk then
          bk = { 0, 0, {}, {} }
          st.buckets[f] = bk
        end
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
        st.dirty_buckets[f] = true
      end
    end
    st.changed = true
  end

  local out = {}
  for w = 1, #ws do
    local x = st.win[w]
    out[#out + 1] = x.c
    out[#out + 1] = x.s
    out[#out + 1] = map_size(x.M)
    out[#out + 1] = map_size(x.K)
  end
  if apply and ev.amount then
    st.n = st.n + 1
    local delta = ev.amount - st.mu
    st.mu = st.mu + delta / st.n
    st.m2 = st.m2 + delta * (ev.amount - st.mu)
  end
  out[#out + 1] = st.n
  out[#out + 1] = st.mu
  out[#out + 1] = st.n < 2 and 0 or math.sqrt(st.m2 / (st.n - 1))
  out[#out + 1] = head and (t - head) or cjson.null
  if st.lt and ev.lat then
    local km = haversine_km(st.la, st.lo, ev.lat, ev.lon)
    local hours = math.abs(t - st.lt) / 3600000
    out[#out + 1] = km
    -- Under a second apart counts as one second, so the speed stays finite.
    out[#out + 1] = km / math.max(hours, 1 / 3600)
  else
    out[#out + 1] = cjson.null
    out[#out + 1] = cjson.null
  end
  if apply then
    st.head = new_head
    if ev.lat and (st.lt == nil or t >= st.lt) then
      st.lt, st.la, st.lo = t, ev.lat, ev.lon
      st.located = true
    end
  end
  return cjson.encode(out)
end

-- Writes what the call's events changed: one HDEL (evicted buckets), one HSET, one PEXPIRE.
local function flush(c, st)
  if not st.changed then return end
  local ws = c.ws
  local hset = { 'h', int(st.head), 'n', int(st.n), 'mu', fmt(st.mu), 'm2', fmt(st.m2) }
  if st.located then
    hset[#hset + 1] = 'lt'
    hset[#hset + 1] = int(st.lt)
    hset[#hset + 1] = 'la'
    hset[#hset + 1] = fmt(st.la)
    hset[#hset + 1] = 'lo'
    hset[#hset + 1] = fmt(st.lo)
  end
  for w = 1, #ws do
    local x = st.win[w]
    hset[#hset + 1] = w .. 't'
    hset[#hset + 1] = int(x.newest)
    hset[#hset + 1] = w .. 'c'
    hset[#hset + 1] = int(x.c)
    hset[#hset + 1] = w .. 's'
    hset[#hset + 1] = int(x.s)
    if x.dirty then
      hset[#hset + 1] = w .. 'M'
      hset[#hset + 1] = cmsgpack.pack(x.M)
      hset[#hset + 1] = w .. 'K'
      hset[#hset + 1] = cmsgpack.pack(x.K)
    end
  end
  for f in pairs(st.dirty_buckets) do
    hset[#hset + 1] = f
    hset[#hset + 1] = cmsgpack.pack(st.buckets[f])
  end
  if #st.evicted > 0 then redis.call('HDEL', c.key, unpack(st.evicted)) end
  redis.call('HSET', c.key, unpack(hset))
  redis.call('PEXPIRE', c.key, c.state_ttl)
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
