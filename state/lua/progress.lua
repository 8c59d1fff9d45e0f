--[[
  How far the state has taken a Kafka partition, kept in the state marker (a hash): the processor
  writes a partition's next offset here after the checkpoint that covers the records before it
  (per commit interval, docs/state.md), before it commits that offset to Kafka. So the value trails
  Kafka's committed offset by at most an interval, and a process that takes the partition over
  replays the records in between. A process holding the partition passes the value it last read or
  wrote as the floor: a stored value below it means Redis lost acknowledged writes (a failover to a
  lagging replica, a restore of an older AOF) under a process whose memory relies on them, and the
  windows must be rebuilt. The check and its consequence happen here, atomically: the marker is
  deleted before anything else can overwrite the evidence. The value only ever rises (a replay
  after a manual reset, or a late retry, cannot lower it). A missing marker means everything was
  lost: nothing is written then.

  KEYS[1]  the state marker (one per node on a cluster)
  ARGV[1]  the partition's field, "p:<topic>/<partition>"
  ARGV[2]  the partition's next offset after this batch (decimal), or "" to record nothing (a check)
  ARGV[3]  the floor (decimal), or "" when unknown: the stored offset must not be below it. The
           ingest passes the progress it last read or wrote here while it held the partition
           (with a checkpoint per commit interval the progress trails Kafka's committed offset by
           design, docs/state.md; a new owner restores that gap by replay)
  ARGV[4]  optional: Kafka's committed offset before this batch, for the "c:" field below; when
           absent, ARGV[3] (the per-batch design, where the floor was Kafka's committed offset)

  Also keeps "c:<topic>/<partition>", the highest committed offset ever reported: Kafka transactions
  committed everything below it, alerts included, so a replay after a manual offset reset does not
  publish those alerts again (a crash replays only what was never committed, which stays above it).

  Returns { 1, generation, published } when the marker exists (the generation of the state, see
  platform/keys.ts stateRoot: a batch whose scripts used another one is retried; published: the
  highest committed offset known, or false), { 0 } when it is missing, { 2, generation, stored }
  when the stored offset was behind the committed one (the marker has been deleted).
]]
-- Decimal strings without leading zeros: shorter is smaller, equal lengths compare as text.
local function less(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end

local committed = ARGV[4] or ARGV[3]
local published_field = 'c:' .. string.sub(ARGV[1], 3)
local found = redis.call('HMGET', KEYS[1], 'gen', ARGV[1], published_field)
local gen, stored, published = found[1], found[2], found[3]
if not gen then return { 0 } end
if stored and ARGV[3] ~= '' and less(stored, ARGV[3]) then
  redis.call('DEL', KEYS[1])
  return { 2, gen, stored }
end
if ARGV[2] ~= '' and (not stored or less(stored, ARGV[2])) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
if committed ~= '' and (not published or less(published, committed)) then
  redis.call('HSET', KEYS[1], published_field, committed)
  published = committed
end
return { 1, gen, published }
