--[[
  Dedup, the account's windows and the feature snapshot of ONE account's transactions, atomically
  (DESIGN.md invariants 2 and 3). All keys share the account's {hash tag}, so one slot.

  A duplicate is the same transaction id seen at a *different* Kafka position: it changes nothing.
  The first-seen position and the features returned then are stored with the transaction key, so a
  replay of the same record (same position) gets the same features back and changes nothing.

  KEYS[1]        the account's state hash (windows and stats) <prefix>:{a:<account>}:st
  KEYS[1+i]      transaction key of the i-th transaction <prefix>:{a:<account>}:tx:<transaction_id>
  ARGV[1]        TTL of the transaction keys, seconds (how long a re-send is still recognised)
  ARGV[2]        TTL of the state hash, ms
  ARGV[3]        windows, "<bucketMs>:<buckets>,..." smallest first
  ARGV[4..]      9 values per transaction: position "<topic>/<partition>/<offset>", event time ms,
                 base-currency amount in minor units ("" when unknown), merchant id, merchant
                 country, latitude (""), longitude (""), late ("1" or "0"), and an opaque string
                 stored with the transaction and returned on replay (the static features)

  Returns a flat array { status_1, first_seen_1, features_1, extra_1, ... } where status is
    0  NEW        applied; features are the account's features after it (JSON array)
    1  REPLAY     the same record again: the stored features and opaque string, nothing changed
    2  DUPLICATE  seen before at another position (first_seen): nothing changed, features ""
]]
-- @include window-core.lua

local c = read_call()
local st = load_state(c)
local out = {}
for i = 1, c.count do
  local txkey = c.txkeys[i]
  local ev = event_at(i)
  local seen = redis.call('HMGET', txkey, 'p', 'f', 'x')
  if not seen[1] then
    local features = apply_event(c, st, ev)
    redis.call('HSET', txkey, 'p', ev.position, 'f', features, 'x', ev.extra)
    redis.call('EXPIRE', txkey, c.tx_ttl)
    out[#out + 1] = 0
    out[#out + 1] = ev.position
    out[#out + 1] = features
    out[#out + 1] = ev.extra
  elseif seen[1] == ev.position then
    out[#out + 1] = 1
    out[#out + 1] = seen[1]
    out[#out + 1] = seen[2]
    out[#out + 1] = seen[3] or ''
  else
    out[#out + 1] = 2
    out[#out + 1] = seen[1]
    out[#out + 1] = ''
    out[#out + 1] = ''
  end
end
flush(c, st)
return out
