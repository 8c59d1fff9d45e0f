--[[
  Checkpoints a group of entities' contributions (state/entity-store.ts): for each entity and each
  source partition given, writes the source's blob and fence only when the new fence is greater
  than the stored one, in one atomic step, so a replayed or zombie write (a fence not newer than
  what is stored) changes nothing, and a blob in the store always holds exactly the records up to
  its fence. Several entities per call only amortise the call (one slot's entities on a Redis
  Cluster, any entities on one Redis); each entity's outcome depends on its own hash alone.

  KEYS[k]     the k-th entity's hash <prefix>:g<gen>:{<a|c|m|d>:<id>}:w (state/keys.ts)
  ARGV[1]     TTL of the hashes, ms (set on a hash whenever something was written to it)
  then, for each KEYS[k] in order:
    n         how many sources of this entity follow
    n times:  source "<topic>/<partition>", its fence (the highest source offset applied into the
              blob, decimal without leading zeros), its contribution blob (opaque bytes)

  Returns a flat array { written, fence, ... }, one pair per source in argument order: written is 1
  when the source's blob and fence were replaced, 0 when the stored fence was equal or greater
  (nothing changed); fence is the source's fence stored after the call (the given one, or the
  newer one that won).
]]

-- Offsets as decimal strings (Lua numbers lose integers above 2^53): shorter is smaller, equal
-- lengths compare as text.
local function less(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end

local ttl = ARGV[1]
local out = {}
local at = 2
for k = 1, #KEYS do
  local key = KEYS[k]
  local n = tonumber(ARGV[at])
  local first = at + 1
  at = first + 3 * n
  local fields = {}
  for i = 0, n - 1 do fields[i + 1] = 'f:' .. ARGV[first + 3 * i] end
  local stored = redis.call('HMGET', key, unpack(fields))
  -- A source given twice for one entity: the later entry is compared with the earlier one's outcome.
  local now = {}
  local set = {}
  for i = 0, n - 1 do
    local source, fence = ARGV[first + 3 * i], ARGV[first + 3 * i + 1]
    local have = now[source] or stored[i + 1]
    if not have or less(have, fence) then
      set[#set + 1] = 'f:' .. source
      set[#set + 1] = fence
      set[#set + 1] = 's:' .. source
      set[#set + 1] = ARGV[first + 3 * i + 2]
      now[source] = fence
      out[#out + 1] = 1
      out[#out + 1] = fence
    else
      now[source] = have
      out[#out + 1] = 0
      out[#out + 1] = have
    end
  end
  if #set > 0 then
    redis.call('HSET', key, unpack(set))
    redis.call('PEXPIRE', key, ttl)
  end
end
return out
