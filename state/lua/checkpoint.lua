--[[
  Checkpoints ONE entity's contributions (state/entity-store.ts): for each source partition given,
  writes its blob and its fence only when the new fence is greater than the stored one, in one
  atomic step, so a replayed or zombie write (a fence not newer than what is stored) changes
  nothing, and the blob in the hash always holds exactly the records up to its fence.

  KEYS[1]            the entity's hash <prefix>:g<gen>:{<a|c|m|d>:<id>}:w (state/keys.ts)
  ARGV[1]            TTL of the hash, ms (set whenever something was written)
  ARGV[2 + 3(i-1)]   the i-th source, "<topic>/<partition>"
  ARGV[3 + 3(i-1)]   its fence: the highest source offset applied into the blob (decimal, no leading zeros)
  ARGV[4 + 3(i-1)]   its contribution blob (opaque bytes)

  Returns a flat array { written_1, fence_1, ... }: written is 1 when the source's blob and fence
  were replaced, 0 when the stored fence was equal or greater (nothing changed); fence is the
  source's fence stored after the call (the given one, or the newer one that won).
]]

-- Offsets as decimal strings (Lua numbers lose integers above 2^53): shorter is smaller, equal
-- lengths compare as text.
local function less(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end

local key = KEYS[1]
local n = (#ARGV - 1) / 3
local fields = {}
for i = 1, n do fields[i] = 'f:' .. ARGV[3 * i - 1] end
local stored = redis.call('HMGET', key, unpack(fields))

-- A source given twice in one call: the later entry is compared with the earlier one's outcome.
local now = {}
local set = {}
local out = {}
for i = 1, n do
  local source, fence = ARGV[3 * i - 1], ARGV[3 * i]
  local have = now[source] or stored[i]
  if not have or less(have, fence) then
    set[#set + 1] = 'f:' .. source
    set[#set + 1] = fence
    set[#set + 1] = 's:' .. source
    set[#set + 1] = ARGV[3 * i + 1]
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
  redis.call('PEXPIRE', key, ARGV[1])
end
return out
