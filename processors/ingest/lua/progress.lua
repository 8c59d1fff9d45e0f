--[[
  How far the state has taken a Kafka partition, kept in the state marker (a hash) so that lost
  writes are noticed: the processor writes a partition's next offset here, in the same pipeline as
  the batch's scripts, BEFORE it commits that offset to Kafka. While Redis keeps what it
  acknowledged, the value here is never behind Kafka's committed offset; when it is behind, Redis
  lost acknowledged writes (a failover to a lagging replica, a restore of an older AOF) and the
  windows must be rebuilt. A missing marker means everything was lost: nothing is written then.

  KEYS[1]  the state marker <prefix>:state:marker
  ARGV[1]  the partition's field, "p:<topic>/<partition>"
  ARGV[2]  the partition's next offset after this batch (decimal)

  Returns { 1, generation, previous next offset or nil } when the marker exists (the generation of
  the state, see platform/keys.ts stateRoot: a batch whose scripts used another one is retried),
  { 0 } when it is missing.
]]
local found = redis.call('HMGET', KEYS[1], 'gen', ARGV[1])
if not found[1] then return { 0 } end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return { 1, found[1], found[2] }
