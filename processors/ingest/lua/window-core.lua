--[[
  Shared by account-state.lua, entity-state.lua and entity-read.lua (included where the "@include"
  line stands, by platform/redis.ts at load time). Event-time sliding windows of ONE entity, in one
  string key (its {hash tag} is the entity's). The pure reference is domain/entity-features.ts.

  State layout 2: the key holds a msgpack array, written with a TTL of ARGV[2] ms on every update:
    head n mu m2 lt la lo           highest event time applied; running amount count, mean, M2
                                    (Welford); time, latitude, longitude of the latest located
                                    event by event time (false when none)
    then per window (smallest first):
    c s C S M K                     count and sum (integer minor units) of the window at the head;
                                    bucket index -> count, bucket index -> sum (bucket index =
                                    floor(time / bucketMs)); merchant -> newest bucket index holding
                                    it, country -> same
  Windows are evaluated at the head: when the head enters a new bucket, buckets, merchants and
  countries that fell out are dropped, so every entry left is live and the distinct counts are the
  sizes of M and K. A script call reads the state once (one GET), applies all its events in memory
  and writes it once (one SET): the number of redis.call and tables per event is what limits
  throughput (bench/run.ts prints the server time per call).
]]
local HEADER = 7
local PER_WINDOW = 6

local function parse_windows(spec)
  local ws = {}
  for bms, n in string.gmatch(spec, '(%d+):(%d+)') do
    ws[#ws + 1] = { bms = tonumber(bms), n = tonumber(n) }
  end
  return ws
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

-- false (how msgpack keeps a missing value in an array) -> nil
local function opt(v)
  if v == false then return nil end
  return v
end

-- The entity's state (one GET); an entity never seen gets empty windows.
local function decode_state(ws, raw)
  local st = { win = {}, changed = false }
  if not raw then
    st.n, st.mu, st.m2 = 0, 0, 0
    for w = 1, #ws do
      st.win[w] = { c = 0, s = 0, C = {}, S = {}, M = {}, K = {} }
    end
    return st
  end
  local v = cmsgpack.unpack(raw)
  st.head, st.n, st.mu, st.m2 = v[1], v[2], v[3], v[4]
  st.lt, st.la, st.lo = opt(v[5]), opt(v[6]), opt(v[7])
  for w = 1, #ws do
    local b = HEADER + (w - 1) * PER_WINDOW
    st.win[w] = { c = v[b + 1], s = v[b + 2], C = v[b + 3], S = v[b + 4], M = v[b + 5], K = v[b + 6] }
  end
  return st
end

local function load_state(c)
  return decode_state(c.ws, redis.call('GET', c.key))
end

-- Drops what lies before bucket `oldest` (the oldest live one) from a window.
local function evict(x, oldest)
  for i, n in pairs(x.C) do
    if i < oldest then
      x.c = x.c - n
      x.s = x.s - (x.S[i] or 0)
      x.C[i] = nil
      x.S[i] = nil
    end
  end
  for m, i in pairs(x.M) do
    if i < oldest then x.M[m] = nil end
  end
  for k, i in pairs(x.K) do
    if i < oldest then x.K[k] = nil end
  end
end

--[[
  Applies one event to the in-memory state (unless it is late or stale: then it only reads) and
  returns the entity's features as an array (the callers msgpack it: exact integers, full doubles,
  and far cheaper than JSON, whose number formatting dominated the scripts' time):
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
    for w = 1, #ws do
      local x = st.win[w]
      local bms = ws[w].bms
      local newest = math.floor(new_head / bms)
      local oldest = newest - ws[w].n + 1
      if head and newest > math.floor(head / bms) then evict(x, oldest) end
      local bi = math.floor(t / bms)
      if bi >= oldest then
        x.C[bi] = (x.C[bi] or 0) + 1
        x.c = x.c + 1
        if ev.amount then
          x.S[bi] = (x.S[bi] or 0) + ev.amount
          x.s = x.s + ev.amount
        end
        local seen = x.M[ev.merchant]
        if not seen or seen < bi then x.M[ev.merchant] = bi end
        seen = x.K[ev.country]
        if not seen or seen < bi then x.K[ev.country] = bi end
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
    end
  end
  return out
end

-- Writes the state when the call's events changed it: one SET with the TTL.
local function flush(c, st)
  if not st.changed then return end
  local v = { st.head, st.n, st.mu, st.m2, st.lt or false, st.la or false, st.lo or false }
  for w = 1, #c.ws do
    local x = st.win[w]
    local b = HEADER + (w - 1) * PER_WINDOW
    v[b + 1], v[b + 2], v[b + 3], v[b + 4], v[b + 5], v[b + 6] = x.c, x.s, x.C, x.S, x.M, x.K
  end
  redis.call('SET', c.key, cmsgpack.pack(v), 'PX', c.state_ttl)
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

-- MGET of the call's transaction keys, in slices (unpack() has a stack limit); missing ones are false.
local function mget_all(keys)
  local found = {}
  for first = 1, #keys, 1000 do
    local last = math.min(first + 999, #keys)
    local v = redis.call('MGET', unpack(keys, first, last))
    for j = 1, #v do found[first + j - 1] = v[j] end
  end
  return found
end

-- The layout both writing scripts share: KEYS[1] the entity's state, then one key per transaction.
local function read_call()
  local c = { ws = parse_windows(ARGV[3]), key = KEYS[1], txkeys = {} }
  for i = 2, #KEYS do c.txkeys[#c.txkeys + 1] = KEYS[i] end
  c.count = #c.txkeys
  c.tx_ttl = tonumber(ARGV[1])
  c.state_ttl = tonumber(ARGV[2])
  return c
end
