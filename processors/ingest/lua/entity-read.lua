--[[
  The current windows of ONE entity (account, card, merchant, device), read only: what the dashboard
  shows as live aggregates and what tests compare with a recomputation from MySQL.

  KEYS[1]  the entity's state (window-core.lua) <prefix>:{<a|c|m|d>:<id>}:st
  ARGV[1]  windows, "<bucketMs>:<buckets>,..." smallest first (as the writing scripts got them)

  Returns a JSON array: head (event time ms, or null), then per window count, sum, distinct
  merchants, distinct countries; then amount n, mean, std (sample).
]]
-- @include window-core.lua

local ws = parse_windows(ARGV[1])
local st = decode_state(ws, redis.call('GET', KEYS[1]))
local out = { st.head or cjson.null }
for w = 1, #ws do
  local x = st.win[w]
  out[#out + 1] = x.c
  out[#out + 1] = x.s
  out[#out + 1] = map_size(x.M)
  out[#out + 1] = map_size(x.K)
end
out[#out + 1] = st.n
out[#out + 1] = st.mu
out[#out + 1] = st.n < 2 and 0 or math.sqrt(st.m2 / (st.n - 1))
return cjson.encode(out)
