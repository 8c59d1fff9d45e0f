--[[
  The windows of ONE card, merchant or device for some transactions of a batch. These live in the
  entity's own hash slot, apart from the account's, so this script cannot see the dedup verdict:
  it is idempotent on its own. It remembers each transaction it has seen, with the features it
  returned, for as long as the state lives; a replay, a crash between this script and the
  account's, or a duplicate delivery gets the stored features back and changes nothing.

  KEYS[1]        the entity's state (window-core.lua) <prefix>:{<c|m|d>:<id>}:st
  KEYS[1+i]      the i-th transaction's marker <prefix>:{<c|m|d>:<id>}:tx:<transaction_id>
  ARGV[1]        TTL of the markers, seconds
  ARGV[2]        TTL of the state, ms
  ARGV[3]        windows, "<bucketMs>:<buckets>,..." smallest first
  ARGV[4]        the transactions, as in account-state.lua (the opaque string is ignored)

  Returns a flat array { status_1, features_1, ... } where status is
    0  APPLIED  first time: features after it (msgpack array, also stored as the marker)
    1  STORED   seen before: the features returned then, nothing changed
]]
-- @include window-core.lua

local c = read_call()
local st = load_state(c)
local stored = mget_all(c.txkeys)
local written = {}
local out = {}
for i = 1, c.count do
  local txkey = c.txkeys[i]
  local features = written[txkey] or stored[i]
  if features then
    out[#out + 1] = 1
  else
    features = cmsgpack.pack(apply_event(c, st, event_at(c, i)))
    redis.call('SET', txkey, features, 'EX', c.tx_ttl)
    written[txkey] = features
    out[#out + 1] = 0
  end
  out[#out + 1] = features
end
flush(c, st)
return out
