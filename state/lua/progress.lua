--[[
  How far the state has taken a Kafka partition, kept in the state marker (a hash) so that lost
  writes are noticed: the processor writes a partition's next offset here, in the same pipeline as
  the batch's scripts, BEFORE it commits that offset to Kafka. While Redis keeps what it
  acknowledged, the value here is never behind Kafka's committed offset; when it is behind, Redis
  lost acknowledged writes (a failover to a lagging replica, a restore of an older AOF) and the
  windows must be rebuilt. The check and its consequence happen here, atomically: the marker is
  deleted before anything else can overwrite the evidence. The value only ever rises (a replay
  after a manual reset, or a late retry, cannot lower it). A missing marker means everything was
  lost: nothing is written then.

  KEYS[1]  the state marker (one per node on a cluster)
  ARGV[1]  the partition's field, "p:<topic>/<partition>"
  ARGV[2]  the partition's next offset after this batch (decimal)
  ARGV[3]  Kafka's committed offset before this batch (decimal), or "" when unknown

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

local published_field = 'c:' .. string.sub(ARGV[1], 3)
local found = redis.call('HMGET', KEYS[1], 'gen', ARGV[1], published_field)
local gen, stored, published = found[1], found[2], found[3]
if not gen then return { 0 } end
if stored and ARGV[3] ~= '' and less(stored, ARGV[3]) then
  redis.call('DEL', KEYS[1])
  return { 2, gen, stored }
end
if not stored or less(stored, ARGV[2]) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
if ARGV[3] ~= '' and (not published or less(published, ARGV[3])) then
  redis.call('HSET', KEYS[1], published_field, ARGV[3])
  published = ARGV[3]
end
return { 1, gen, published }
