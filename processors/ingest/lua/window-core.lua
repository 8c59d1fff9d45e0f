--[[
  Shared by account-state.lua and entity-state.lua (included where the "@include" line stands, by
  platform/redis.ts at load time). Event-time sliding windows of ONE entity; all its keys share the
  entity's {hash tag}. The pure reference is domain/windows.ts (featuresBruteForce).

  Layout (all TTL-bounded):
    stats hash  h   head: the highest event time applied
                n mu m2     running amount count, mean, M2 (Welford)
                lt la lo    time, latitude, longitude of the latest located event (by event time)
    window hash t   newest bucket index the window was advanced to (index = floor(time / bucketMs))
                c s d e     count, sum (integer minor units), distinct merchants, distinct countries
                b<i>c b<i>s bucket i's count and sum
                b<i>M b<i>K JSON lists of the merchants / countries first seen in bucket i
                b<i>m|<merchant>, b<i>k|<country>   membership of bucket i
                m|<merchant>, k|<country>           how many live buckets hold the member
  Windows are evaluated at the entity's head. Moving the head evicts whole buckets (each once), so
  an update costs O(buckets that slid out), not O(window).
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

-- Removes one member list of bucket `pre` from the window's distinct counters.
local function evict_members(wkey, pre, list_field, member_prefix, distinct_field, dels)
  local raw = redis.call('HGET', wkey, pre .. list_field)
  if not raw then return end
  for _, m in ipairs(cjson.decode(raw)) do
    dels[#dels + 1] = pre .. member_prefix .. m
    if redis.call('HINCRBY', wkey, member_prefix .. m, -1) <= 0 then
      redis.call('HDEL', wkey, member_prefix .. m)
      redis.call('HINCRBY', wkey, distinct_field, -1)
    end
  end
end

-- Evicts buckets first..last (indexes) from a window's totals.
local function evict(wkey, first, last)
  for i = first, last do
    local pre = 'b' .. int(i)
    local v = redis.call('HMGET', wkey, pre .. 'c', pre .. 's')
    if v[1] then
      -- int(): a negated zero would reach Redis as "-0", which HINCRBY refuses.
      redis.call('HINCRBY', wkey, 'c', int(-tonumber(v[1])))
      redis.call('HINCRBY', wkey, 's', int(-tonumber(v[2])))
      local dels = { pre .. 'c', pre .. 's', pre .. 'M', pre .. 'K' }
      evict_members(wkey, pre, 'M', 'm|', 'd', dels)
      evict_members(wkey, pre, 'K', 'k|', 'e', dels)
      redis.call('HDEL', wkey, unpack(dels))
    end
  end
end

-- Adds a member to bucket `pre`'s set and, when new to the window, to its distinct count.
local function add_member(wkey, pre, list_field, member_prefix, distinct_field, m)
  if redis.call('HSETNX', wkey, pre .. member_prefix .. m, 1) == 1 then
    local raw = redis.call('HGET', wkey, pre .. list_field)
    local list = raw and cjson.decode(raw) or {}
    list[#list + 1] = m
    redis.call('HSET', wkey, pre .. list_field, cjson.encode(list))
    if redis.call('HINCRBY', wkey, member_prefix .. m, 1) == 1 then
      redis.call('HINCRBY', wkey, distinct_field, 1)
    end
  end
end

local function haversine_km(lat1, lon1, lat2, lon2)
  local rad = math.pi / 180
  local dlat = (lat2 - lat1) * rad
  local dlon = (lon2 - lon1) * rad
  local a = math.sin(dlat / 2) ^ 2 + math.cos(lat1 * rad) * math.cos(lat2 * rad) * math.sin(dlon / 2) ^ 2
  return 2 * 6371.0088 * math.asin(math.min(1, math.sqrt(a)))
end

--[[
  Applies one event (unless `apply` is false: late or stale events only read) and returns the
  entity's features as a JSON array:
    per window: count, sum, distinct merchants, distinct countries (after this event)
    then: amount n, amount mean, amount std (sample), ms since the previous event (head),
          km from the latest located event, km/h from it (null when unknown; under 1 s counts as 1 s)
  ev = { t, amount (number or nil), merchant, country, lat (or nil), lon (or nil), late }
]]
local function apply_event(c, ev)
  local skey, wkeys, ws, ttl_ms = c.skey, c.wkeys, c.ws, c.state_ttl
  local st = redis.call('HMGET', skey, 'h', 'n', 'mu', 'm2', 'lt', 'la', 'lo')
  local head = tonumber(st[1])
  local n, mu, m2 = tonumber(st[2]) or 0, tonumber(st[3]) or 0, tonumber(st[4]) or 0
  local t = ev.t
  local new_head = head and math.max(head, t) or t
  -- An event older than the largest window at the head can change no window: read only.
  local largest = ws[#ws]
  local stale = math.floor(t / largest.bms) <= math.floor(new_head / largest.bms) - largest.n
  local apply = (not ev.late) and not stale
  local out = {}
  for w = 1, #ws do
    local wkey, bms, nb = wkeys[w], ws[w].bms, ws[w].n
    if apply then
      local newest_old = tonumber(redis.call('HGET', wkey, 't'))
      local newest_new = math.floor(new_head / bms)
      if newest_old == nil then
        redis.call('HSET', wkey, 't', int(newest_new))
      elseif newest_new > newest_old then
        evict(wkey, newest_old - nb + 1, math.min(newest_new - nb, newest_old))
        redis.call('HSET', wkey, 't', int(newest_new))
      end
      local bi = math.floor(t / bms)
      if bi > newest_new - nb then
        local pre = 'b' .. int(bi)
        redis.call('HINCRBY', wkey, pre .. 'c', 1)
        redis.call('HINCRBY', wkey, 'c', 1)
        if ev.amount then
          redis.call('HINCRBY', wkey, pre .. 's', int(ev.amount))
          redis.call('HINCRBY', wkey, 's', int(ev.amount))
        else
          redis.call('HINCRBY', wkey, pre .. 's', 0)
        end
        add_member(wkey, pre, 'M', 'm|', 'd', ev.merchant)
        add_member(wkey, pre, 'K', 'k|', 'e', ev.country)
      end
      redis.call('PEXPIRE', wkey, ttl_ms)
    end
    local v = redis.call('HMGET', wkey, 'c', 's', 'd', 'e')
    out[#out + 1] = tonumber(v[1]) or 0
    out[#out + 1] = tonumber(v[2]) or 0
    out[#out + 1] = tonumber(v[3]) or 0
    out[#out + 1] = tonumber(v[4]) or 0
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
  local lt, la, lo = tonumber(st[5]), tonumber(st[6]), tonumber(st[7])
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
    local fields = { 'h', int(new_head), 'n', int(n), 'mu', fmt(mu), 'm2', fmt(m2) }
    if ev.lat and (lt == nil or t >= lt) then
      fields[#fields + 1] = 'lt'
      fields[#fields + 1] = int(t)
      fields[#fields + 1] = 'la'
      fields[#fields + 1] = fmt(ev.lat)
      fields[#fields + 1] = 'lo'
      fields[#fields + 1] = fmt(ev.lon)
    end
    redis.call('HSET', skey, unpack(fields))
    redis.call('PEXPIRE', skey, ttl_ms)
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

-- The layout both scripts share: KEYS stats, windows, transaction keys; ARGV TTLs and windows.
local function read_call()
  local ws = parse_windows(ARGV[3])
  local c = { ws = ws, skey = KEYS[1], wkeys = {}, txkeys = {} }
  for w = 1, #ws do c.wkeys[w] = KEYS[1 + w] end
  for i = 2 + #ws, #KEYS do c.txkeys[#c.txkeys + 1] = KEYS[i] end
  c.count = #c.txkeys
  c.tx_ttl = tonumber(ARGV[1])
  c.state_ttl = tonumber(ARGV[2])
  return c
end
