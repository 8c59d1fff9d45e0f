// The fenced entity store of issue 17 (state/entity-store.ts, state/lua/checkpoint.lua) against the
// real Redis and a throwaway Redis Cluster: fences, coexisting sources, zombies, TTL, batches of
// 5,000 entities and binary blobs. Each test writes under its own key prefix.
import { randomBytes } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTITY_KINDS, hashSlot, type EntityKind } from '../../platform/keys.ts';
import type { StateRedis } from '../../platform/redis-pipelines.ts';
import type { TxmonRedis } from '../../platform/redis.ts';
import { EntityStore, type CheckpointWrite } from '../../state/entity-store.ts';
import type { EntityRef } from '../../state/keys.ts';
import { startCluster, type TestCluster } from '../helpers/redis-cluster.ts';
import { connectScratchRedis, dropScratchRedis } from '../helpers/scratch-redis.ts';

// Its own ports: not those of the clusters of window-state, state-rebuild and cluster.e2e tests.
const PORTS = [7161, 7162, 7163];
const root = `t-estore-${randomBytes(4).toString('hex')}`;
const TOPIC = 'txmon.transactions.v1';
const P0 = { topic: TOPIC, partition: 0 };
const P1 = { topic: TOPIC, partition: 1 };
const ACC: EntityRef = { kind: 'account', id: 'acc-1' };
let redis: TxmonRedis;
let runs = 0;

function store(client: StateRedis = redis, stateTtlMs = 60_000): EntityStore {
  return new EntityStore(client, { prefix: `${root}:${runs++}`, stateTtlMs });
}

function write(over: Partial<CheckpointWrite> & Pick<CheckpointWrite, 'fence' | 'blob'>): CheckpointWrite {
  return { ...ACC, source: P0, ...over };
}

const blob = (text: string) => Buffer.from(text);

beforeAll(async () => {
  redis = await connectScratchRedis(root);
});
afterAll(() => dropScratchRedis(redis, root));

describe('fenced checkpoints on one Redis', () => {
  it('ignores an equal or lower fence and replaces blob and fence together for a higher one', async () => {
    const s = store();
    expect(await s.checkpoint([write({ fence: 9n, blob: blob('nine') })])).toEqual([{ written: true, fence: 9n }]);
    expect(await s.checkpoint([write({ fence: 9n, blob: blob('nine again') })])).toEqual([{ written: false, fence: 9n }]);
    expect(await s.checkpoint([write({ fence: 3n, blob: blob('three') })])).toEqual([{ written: false, fence: 9n }]);
    expect((await s.read([ACC]))[0]?.get(`${TOPIC}/0`)).toEqual({ fence: 9n, blob: blob('nine') });
    // "10" sorts before "9" as text: the script compares offsets as numbers.
    expect(await s.checkpoint([write({ fence: 10n, blob: blob('ten') })])).toEqual([{ written: true, fence: 10n }]);
    expect(await redis.hgetall(s.key(ACC))).toEqual({ [`f:${TOPIC}/0`]: '10', [`s:${TOPIC}/0`]: 'ten' });
  });

  it('compares fences beyond 2^53 exactly', async () => {
    const s = store();
    const top = 2n ** 63n - 1n;
    await s.checkpoint([write({ fence: top - 1n, blob: blob('a') })]);
    expect(await s.checkpoint([write({ fence: top - 2n, blob: blob('b') })])).toEqual([{ written: false, fence: top - 1n }]);
    expect(await s.checkpoint([write({ fence: top, blob: blob('c') })])).toEqual([{ written: true, fence: top }]);
    expect((await s.read([ACC]))[0]?.get(`${TOPIC}/0`)).toEqual({ fence: top, blob: blob('c') });
  });

  it('keeps the contributions of two sources side by side, and reads one source alone', async () => {
    const s = store();
    const out = await s.checkpoint([
      write({ source: P0, fence: 40n, blob: blob('from p0') }),
      write({ source: P1, fence: 7n, blob: blob('from p1') }),
    ]);
    expect(out).toEqual([
      { written: true, fence: 40n },
      { written: true, fence: 7n },
    ]);
    // A later batch of one source leaves the other's contribution as it was.
    await s.checkpoint([write({ source: P1, fence: 8n, blob: blob('p1 later') })]);
    const [all] = await s.read([ACC]);
    expect(all).toEqual(
      new Map([
        [`${TOPIC}/0`, { fence: 40n, blob: blob('from p0') }],
        [`${TOPIC}/1`, { fence: 8n, blob: blob('p1 later') }],
      ]),
    );
    const [onlyP1, none] = await s.readSources([ACC, { kind: 'device', id: 'dev-0' }], [P1, { topic: TOPIC, partition: 5 }]);
    expect(onlyP1).toEqual(new Map([[`${TOPIC}/1`, { fence: 8n, blob: blob('p1 later') }]]));
    expect(none).toEqual(new Map());
  });

  it("rejects a zombie's older write after the new owner's newer one", async () => {
    const s = store();
    // The new owner replayed the partition up to 120 and checkpointed; the old owner, cut off by a
    // rebalance, still flushes what it had applied up to 100.
    await s.checkpoint([write({ fence: 120n, blob: blob('new owner') })]);
    expect(await s.checkpoint([write({ fence: 100n, blob: blob('zombie') })])).toEqual([{ written: false, fence: 120n }]);
    expect((await s.read([ACC]))[0]?.get(`${TOPIC}/0`)).toEqual({ fence: 120n, blob: blob('new owner') });
    // The same within one call: the later entry of a source meets the earlier one's fence.
    const out = await s.checkpoint([write({ fence: 130n, blob: blob('130') }), write({ fence: 125n, blob: blob('125') })]);
    expect(out).toEqual([
      { written: true, fence: 130n },
      { written: false, fence: 130n },
    ]);
    expect((await s.read([ACC]))[0]?.get(`${TOPIC}/0`)).toEqual({ fence: 130n, blob: blob('130') });
  });

  it('sets the TTL on a write, refreshes it on the next write, and leaves it on a rejected one', async () => {
    const s = store(redis, 60_000);
    await s.checkpoint([write({ fence: 1n, blob: blob('x') })]);
    const key = s.key(ACC);
    expect(await redis.pttl(key)).toBeGreaterThan(55_000);
    await redis.pexpire(key, 5_000);
    await s.checkpoint([write({ source: P1, fence: 1n, blob: blob('y') })]);
    expect(await redis.pttl(key)).toBeGreaterThan(55_000);
    await redis.pexpire(key, 5_000);
    await s.checkpoint([write({ fence: 1n, blob: blob('replay') })]);
    expect(await redis.pttl(key)).toBeLessThanOrEqual(5_000);

    const short = store(redis, 150);
    await short.checkpoint([write({ fence: 1n, blob: blob('gone soon') })]);
    await new Promise((r) => setTimeout(r, 400));
    expect(await short.read([ACC])).toEqual([new Map()]);
  });

  it('puts several entities in one script call and still answers each write in order', async () => {
    const s = new EntityStore(redis, { prefix: `${root}:${runs++}`, stateTtlMs: 60_000, entitiesPerCall: 2 });
    const [a, b, c] = ['acc-a', 'acc-b', 'acc-c'].map((id): EntityRef => ({ kind: 'account', id }));
    await s.checkpoint([{ ...(b as EntityRef), source: P0, fence: 50n, blob: blob('b50') }]);
    const out = await s.checkpoint([
      { ...(a as EntityRef), source: P0, fence: 10n, blob: blob('a10') },
      { ...(b as EntityRef), source: P0, fence: 40n, blob: blob('b40') },
      { ...(a as EntityRef), source: P1, fence: 3n, blob: blob('a3') },
      { ...(c as EntityRef), source: P0, fence: 7n, blob: blob('c7') },
      { ...(a as EntityRef), source: P0, fence: 9n, blob: blob('a9') },
    ]);
    expect(out).toEqual([
      { written: true, fence: 10n },
      { written: false, fence: 50n },
      { written: true, fence: 3n },
      { written: true, fence: 7n },
      { written: false, fence: 10n },
    ]);
    const read = await s.read([a, b, c] as EntityRef[]);
    expect(read.map((m) => [...m].map(([src, x]) => `${src}@${x.fence}=${x.blob.toString()}`))).toEqual([
      [`${TOPIC}/0@10=a10`, `${TOPIC}/1@3=a3`],
      [`${TOPIC}/0@50=b50`],
      [`${TOPIC}/0@7=c7`],
    ]);
  });

  it('keeps every byte value of a blob, and an empty blob', async () => {
    const s = store();
    const bytes = Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 7) % 256));
    const dev: EntityRef = { kind: 'device', id: 'dev-bin' };
    await s.checkpoint([write({ fence: 5n, blob: bytes }), { ...dev, source: P0, fence: 5n, blob: Buffer.alloc(0) }]);
    expect(new Set(bytes).size).toBe(256);
    const [acc, device] = await s.read([ACC, dev]);
    expect(acc?.get(`${TOPIC}/0`)?.blob.equals(bytes)).toBe(true);
    expect(device?.get(`${TOPIC}/0`)).toEqual({ fence: 5n, blob: Buffer.alloc(0) });
    const [only] = await s.readSources([ACC], [P0]);
    expect(only?.get(`${TOPIC}/0`)?.blob.equals(bytes)).toBe(true);
  });

  it('keeps generations apart', async () => {
    const s = store();
    await s.checkpoint([write({ fence: 1n, blob: blob('gen 0') })]);
    const next = s.forGeneration(1);
    expect(await next.read([ACC])).toEqual([new Map()]);
    expect(await next.checkpoint([write({ fence: 1n, blob: blob('gen 1') })])).toEqual([{ written: true, fence: 1n }]);
    expect((await s.read([ACC]))[0]?.get(`${TOPIC}/0`)?.blob).toEqual(blob('gen 0'));
  });

  it('fails a read that finds a blob without its fence (something else wrote the hash)', async () => {
    const s = store();
    await redis.hset(s.key(ACC), `s:${TOPIC}/3`, 'orphan');
    await expect(s.read([ACC])).rejects.toMatchObject({ code: 'INVARIANT_BROKEN' });
    await expect(s.readSources([ACC], [{ topic: TOPIC, partition: 3 }])).rejects.toMatchObject({ code: 'INVARIANT_BROKEN' });
  });

  it('refuses a negative fence before sending anything', async () => {
    const s = store();
    await expect(s.checkpoint([write({ fence: -1n, blob: blob('x') })])).rejects.toThrow(RangeError);
    expect(s.roundTrips).toBe(0);
  });

  it('checkpoints 5,000 entities in one round trip and reads them back in one', async () => {
    await manyEntities(store());
  });
});

describe('on a Redis Cluster (three masters)', () => {
  let cluster: TestCluster;
  let client: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(PORTS);
    client = cluster.client();
    await client.ping(); // (a cluster client knows its slot map once connected)
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('checkpoints 5,000 entities spread over the masters and reads them back, fences holding', async () => {
    const s = store(client);
    await manyEntities(s);
    const nodes = new Set(manyEntityRefs().map((e) => client.slots[hashSlot(s.key(e))]?.[0]));
    expect(nodes.size).toBe(3);
  });

  it('still checkpoints after the masters forgot the script (a restarted node, a failover: NOSCRIPT)', async () => {
    const s = store(client);
    await s.checkpoint([write({ fence: 1n, blob: blob('before') })]);
    await Promise.all(client.nodes('master').map((n) => n.script('FLUSH')));
    expect(await s.checkpoint([write({ fence: 2n, blob: blob('after') })])).toEqual([{ written: true, fence: 2n }]);
    expect((await s.read([ACC]))[0]?.get(`${TOPIC}/0`)).toEqual({ fence: 2n, blob: blob('after') });
  });
});

function manyEntityRefs(): EntityRef[] {
  const kinds = Object.keys(ENTITY_KINDS) as EntityKind[];
  return Array.from({ length: 5_000 }, (_, i) => ({ kind: kinds[i % 4] as EntityKind, id: `e-${i}` }));
}

/** 5,000 entities of every kind, two sources for some: one call each way, then a replay that changes nothing. */
async function manyEntities(s: EntityStore): Promise<void> {
  const entities = manyEntityRefs();
  const writes: CheckpointWrite[] = entities.flatMap((e, i) => {
    const first = { ...e, source: P0, fence: BigInt(1_000 + i), blob: Buffer.from(`${e.kind}/${e.id}/p0 `.repeat(20)) };
    return i % 10 === 0 ? [first, { ...e, source: P1, fence: BigInt(i), blob: Buffer.from(`${e.id}/p1`) }] : [first];
  });
  const outcomes = await s.checkpoint(writes);
  expect(s.roundTrips).toBe(1);
  expect(outcomes.every((o, i) => o.written && o.fence === writes[i]?.fence)).toBe(true);

  const read = await s.read(entities);
  expect(s.roundTrips).toBe(2);
  expect(read).toHaveLength(entities.length);
  // Compared by hand: a deep toEqual of 5,500 Buffers takes seconds.
  const wrong = writes.filter((w) => {
    const got = read[Number(w.id.slice(2))]?.get(`${w.source.topic}/${w.source.partition}`);
    return got === undefined || got.fence !== w.fence || !got.blob.equals(w.blob);
  });
  expect(wrong).toEqual([]);
  expect(read.map((m) => m.size)).toEqual(entities.map((_, i) => (i % 10 === 0 ? 2 : 1)));

  // The whole batch again (a replay after a crash before the Kafka commit): nothing written.
  const again = await s.checkpoint(writes.map((w) => ({ ...w, blob: Buffer.from('replayed') })));
  expect(again.every((o, i) => !o.written && o.fence === writes[i]?.fence)).toBe(true);
  const [first] = await s.read([entities[0] as EntityRef]);
  expect(first?.get(`${TOPIC}/0`)?.blob).toEqual((writes[0] as CheckpointWrite).blob);
}
