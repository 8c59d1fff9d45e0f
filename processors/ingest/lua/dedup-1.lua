--[[
  Replay-safe deduplication of one transaction (DESIGN.md invariant 3).

  A duplicate is the same transaction id seen at a *different* Kafka position. The first-seen
  position is stored with the key, so re-reading the same record after a crash is a replay,
  not a duplicate.

  KEYS[1]  dedup key of the transaction, in the account's hash slot: <prefix>:{a:<account>}:dedup:<transaction_id>
  ARGV[1]  this record's position, "<topic>/<partition>/<offset>"
  ARGV[2]  TTL of the dedup key in seconds (how long a re-send is still recognised)

  Returns { status, first_seen_position }
    status 0  NEW        first time this id is seen; the key now holds ARGV[1]
    status 1  REPLAY     the same record again (same position): process it as before
    status 2  DUPLICATE  seen before at another position: count it, change nothing else
]]
local first = redis.call('GET', KEYS[1])
if not first then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
  return { 0, ARGV[1] }
end
if first == ARGV[1] then
  return { 1, first }
end
return { 2, first }
