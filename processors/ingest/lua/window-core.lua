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
local floor, max, min = math.floor, math.max, math.min
local sin, cos, asin, sqrt = math.sin, math.cos, math.asin, math.sqrt
local NULL = cjson.null

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

local RAD = math.pi / 180
local function haversine_km(lat1, lon1, lat2, lon2)
  local dlat = (lat2 - lat1) * RAD
  local dlon = (lon2 - lon1) * RAD
  local a = sin(dlat / 2) ^ 2 + cos(lat1 * RAD) * cos(lat2 * RAD) * sin(dlon / 2) ^ 2
  return 2 * 6371.0088 * asin(min(1, sqrt(a)))
end

-- false (how msgpack keeps a missing value in an array) -> nil
local function opt(v)
  if v == false then return nil end
  return v
end

-- The entity's state (one GET); an entity never seen gets empty windows. In memory, each window
-- also carries dm and dk, the sizes of M and K (the distinct counts), kept as events change them.
local function decode_state(ws, raw)
  local st = { win = {}, changed = false }
  if not raw then
    st.n, st.mu, st.m2 = 0, 0, 0
    for w = 1, #ws do
      st.win[w] = { c = 0, s = 0, C = {}, S = {}, M = {}, K = {}, dm = 0, dk = 0 }
    end
    return st
  end
  local v = cmsgpack.unpack(raw)
  st.head, st.n, st.mu, st.m2 = v[1], v[2], v[3], v[4]
  st.lt, st.la, st.lo = opt(v[5]), opt(v[6]), opt(v[7])
  for w = 1, #ws do
    local b = HEADER + (w - 1) * PER_WINDOW
    local M, K = v[b + 5], v[b + 6]
    st.win[w] = {
      c = v[b + 1], s = v[b + 2], C = v[b + 3], S = v[b + 4], M = M, K = K, dm = map_size(M), dk = map_size(K),
    }
  end
  return st
end

local function load_state(c)
  return decode_state(c.ws, redis.call('GET', c.key))
end

-- Drops the members whose newest bucket lies before `oldest`; returns how many.
local function prune(members, oldest)
  local dropped = 0
  for m, i in pairs(members) do
    if i < oldest then
      members[m] = nil
      dropped = dropped + 1
    end
  end
  return dropped
end

-- Drops what lies before bucket `oldest` (the oldest live one) from a window.
local function evict(x, oldest)
  local C, S, M, K = x.C, x.S, x.M, x.K
  for i, n in pairs(C) do
    if i < oldest then
      x.c = x.c - n
      x.s = x.s - (S[i] or 0)
      C[i] = nil
      S[i] = nil
    end
  end
  x.dm = x.dm - prune(M, oldest)
  x.dk = x.dk - prune(K, oldest)
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
  local nw = #ws
  local t = ev.t
  local head = st.head
  local new_head = head and max(head, t) or t
  -- An event older than the largest window at the head can change no window: read only.
  local largest = ws[nw]
  local stale = floor(t / largest.bms) <= floor(new_head / largest.bms) - largest.n
  local apply = (not ev.late) and not stale
  local amount = ev.amount

  if apply then
    local merchant, country = ev.merchant, ev.country
    for w = 1, nw do
      local x = st.win[w]
      local bms = ws[w].bms
      local newest = floor(new_head / bms)
      local oldest = newest - ws[w].n + 1
      if head and newest > floor(head / bms) then evict(x, oldest) end
      local bi = floor(t / bms)
      if bi >= oldest then
        local C = x.C
        C[bi] = (C[bi] or 0) + 1
        x.c = x.c + 1
        if amount then
          local S = x.S
          S[bi] = (S[bi] or 0) + amount
          x.s = x.s + amount
        end
        local M = x.M
        local seen = M[merchant]
        if not seen then
          M[merchant] = bi
          x.dm = x.dm + 1
        elseif seen < bi then
          M[merchant] = bi
        end
        local K = x.K
        seen = K[country]
        if not seen then
          K[country] = bi
          x.dk = x.dk + 1
        elseif seen < bi then
          K[country] = bi
        end
      end
    end
    st.changed = true
  end

  local out = {}
  local k = 0
  for w = 1, nw do
    local x = st.win[w]
    out[k + 1], out[k + 2], out[k + 3], out[k + 4] = x.c, x.s, x.dm, x.dk
    k = k + 4
  end
  if apply and amount then
    local n = st.n + 1
    local delta = amount - st.mu
    st.n = n
    st.mu = st.mu + delta / n
    st.m2 = st.m2 + delta * (amount - st.mu)
  end
  local n = st.n
  out[k + 1], out[k + 2], out[k + 3] = n, st.mu, n < 2 and 0 or sqrt(st.m2 / (n - 1))
  out[k + 4] = head and (t - head) or NULL
  local lat = ev.lat
  if st.lt and lat then
    local km = haversine_km(st.la, st.lo, lat, ev.lon)
    -- Under a second apart counts as one second, so the speed stays finite.
    out[k + 5], out[k + 6] = km, km / max(math.abs(t - st.lt) / 3600000, 1 / 3600)
  else
    out[k + 5], out[k + 6] = NULL, NULL
  end
  if apply then
    st.head = new_head
    if lat and (st.lt == nil or t >= st.lt) then
      st.lt, st.la, st.lo = t, lat, ev.lon
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

-- The i-th event of the call: ARGV[4] is one msgpack array of 9 values per transaction (position,
-- event time, amount or nil, merchant, country, latitude or nil, longitude or nil, late (boolean),
-- opaque string): one argument instead of nine per transaction, decoded in C.
local function event_at(c, i)
  local E, b = c.events, (i - 1) * 9
  return {
    position = E[b + 1],
    t = E[b + 2],
    amount = E[b + 3],
    merchant = E[b + 4],
    country = E[b + 5],
    lat = E[b + 6],
    lon = E[b + 7],
    late = E[b + 8] == true,
    extra = E[b + 9],
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
  c.events = c.count > 0 and cmsgpack.unpack(ARGV[4]) or {}
  return c
end
