--[[
  Dedup, the account's windows and the feature snapshot of ONE account's transactions, atomically
  (DESIGN.md invariants 2 and 3). All keys share the account's {hash tag}, so one slot.

  A duplicate is the same transaction id seen at a *different* Kafka position: it changes nothing.
  The first-seen position and the features returned then are stored with the transaction key, so a
  replay of the same record (same position) gets the same features back and changes nothing.

  KEYS[1]        the account's state (window-core.lua) <prefix>:{a:<account>}:st
  KEYS[1+i]      transaction key of the i-th transaction <prefix>:{a:<account>}:tx:<transaction_id>:
                 its record, msgpack [ first-seen position, features (array), opaque string ]
  ARGV[1]        TTL of the transaction keys, seconds (how long a re-send is still recognised)
  ARGV[2]        TTL of the state, ms
  ARGV[3]        windows, "<bucketMs>:<buckets>,..." smallest first
  ARGV[4]        msgpack array, 9 values per transaction: position "<topic>/<partition>/<offset>",
                 event time ms, base-currency amount in minor units (nil when unknown), merchant id,
                 merchant country, latitude (nil), longitude (nil), late (boolean), and an opaque
                 string stored with the transaction and returned on replay (the static features)

  Returns a flat array { status_1, record_1, ... } where status is
    0  NEW        applied; the record just stored (features: the account's after this transaction)
    1  REPLAY     the same record again: the stored record, nothing changed
    2  DUPLICATE  seen before at another position: the stored record (its first-seen position),
                  nothing changed
]]
-- @include window-core.lua

local c = read_call()
local st = load_state(c)
local stored = mget_all(c.txkeys)
local written = {}
local out = {}
for i = 1, c.count do
  local txkey = c.txkeys[i]
  local ev = event_at(c, i)
  local record = written[txkey] or stored[i]
  if not record then
    record = cmsgpack.pack({ ev.position, apply_event(c, st, ev), ev.extra })
    redis.call('SET', txkey, record, 'EX', c.tx_ttl)
    written[txkey] = record
    out[#out + 1] = 0
  elseif cmsgpack.unpack(record)[1] == ev.position then
    out[#out + 1] = 1
  else
    out[#out + 1] = 2
  end
  out[#out + 1] = record
end
flush(c, st)
return out
