--[[
  The current windows of ONE entity (account, card, merchant, device), read only: what the dashboard
  shows as live aggregates and what tests compare with a recomputation from MySQL.

  KEYS[1]  the entity's state hash <prefix>:{<a|c|m|d>:<id>}:st
  ARGV[1]  windows, "<bucketMs>:<buckets>,..." smallest first (as the writing scripts got them)

  Returns a JSON array: head (event time ms, or null), then per window count, sum, distinct
  merchants, distinct countries; then amount n, mean, std (sample).
]]
-- @include window-core.lua

local ws = parse_windows(ARGV[1])
local fields = { 'h', 'n', 'mu', 'm2' }
for w = 1, #ws do
  fields[#fields + 1] = w .. 'c'
  fields[#fields + 1] = w .. 's'
  fields[#fields + 1] = w .. 'M'
  fields[#fields + 1] = w .. 'K'
end
local v = redis.call('HMGET', KEYS[1], unpack(fields))
local out = { tonumber(v[1]) or cjson.null }
for w = 1, #ws do
  local b = 4 + (w - 1) * 4
  out[#out + 1] = tonumber(v[b + 1]) or 0
  out[#out + 1] = tonumber(v[b + 2]) or 0
  out[#out + 1] = map_size(unpack_map(v[b + 3]))
  out[#out + 1] = map_size(unpack_map(v[b + 4]))
end
local n, mu, m2 = tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0
out[#out + 1] = n
out[#out + 1] = mu
out[#out + 1] = n < 2 and 0 or math.sqrt(m2 / (n - 1))
return cjson.encode(out)
