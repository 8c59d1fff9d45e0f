--[[
  Replay-safe deduplication of the transactions of ONE account (DESIGN.md invariant 3).

  A duplicate is the same transaction id seen at a *different* Kafka position. The first-seen
  position is stored with the key, so re-reading the same record after a crash is a replay,
  not a duplicate. All keys belong to one account, so they share its hash slot (Redis Cluster).
  Keys are checked in order, so a second copy of an id within the same call is a duplicate.

  KEYS[i]    dedup key of the i-th transaction: <prefix>:{a:<account>}:dedup:<transaction_id>
  ARGV[1]    TTL of the dedup keys in seconds (how long a re-send is still recognised)
  ARGV[1+i]  the i-th record's position, "<topic>/<partition>/<offset>"

  Returns a flat array { status_1, first_seen_1, status_2, first_seen_2, ... } where status is
    0  NEW        first time this id is seen; the key now holds the position
    1  REPLAY     the same record again (same position): process it as before
    2  DUPLICATE  seen before at another position: count it, change nothing else
]]
local ttl = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS do
  local position = ARGV[i + 1]
  local first = redis.call('GET', KEYS[i])
  if not first then
    redis.call('SET', KEYS[i], position, 'EX', ttl)
    out[#out + 1] = 0
    out[#out + 1] = position
  elseif first == position then
    out[#out + 1] = 1
    out[#out + 1] = first
  else
    out[#out + 1] = 2
    out[#out + 1] = first
  end
end
return out
