// The partition-state stage (state/partition-state.ts) over the real Redis with the fenced
// EntityStore: batches, a crash between the checkpoint and the Kafka commit (the batch replayed with
// replay verdicts applies nothing twice), crashes at every other step, and a zombie writing an older
// fence after the new owner. The stored state equals the brute force. Keys under their own prefix.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { featureArray } from '../../domain/entity-features.ts';
import type { TxmonRedis } from '../../platform/redis.ts';
import { EntityStore } from '../../state/entity-store.ts';
import { PartitionState, type StateTransaction } from '../../state/partition-state.ts';
import { EntityWindows } from '../../state/window-engine.ts';
import {
  bruteForce,
  drive,
  entitiesOf,
  storedState,
  txStream,
  type Crash,
  type DrivenStore,
  type StreamTx,
} from '../helpers/partition-streams.ts';
import { SMALL_SCALE, SMALL_WINDOWS, featureMismatch } from '../helpers/window-streams.ts';
import { connectScratchRedis, dropScratchRedis } from '../helpers/scratch-redis.ts';

const root = `t-pstate-${randomBytes(4).toString('hex')}`;
const W = SMALL_WINDOWS;
const AGG = W.length * 4 + 3;
const P0 = { topic: 'txmon.transactions.v1', partition: 0 };
let redis: TxmonRedis;
let runs = 0;

const newStore = () => new EntityStore(redis, { prefix: `${root}:${runs++}`, stateTtlMs: 600_000 });

/** A fixed stream (seeded), long enough for several batches. */
function stream(seed: number): StreamTx[] {
  return fc.sample(txStream(SMALL_SCALE, 'p0', 120), { seed, numRuns: 1 })[0] as StreamTx[];
}

async function expectStoredEqualsBruteForce(store: DrivenStore, s: readonly StreamTx[]): Promise<void> {
  const { last } = bruteForce(s, W);
  for (const ref of entitiesOf(s)) {
    const want = last.get(`${ref.kind}:${ref.id}`);
    const got = (await storedState(store, ref, W)).features().slice(0, AGG);
    const expected = (want ? featureArray(want) : EntityWindows.of(W).features()).slice(0, AGG);
    expect(featureMismatch(got, expected, W.length), `${ref.kind}:${ref.id}`).toBeNull();
  }
}

beforeAll(async () => {
  redis = await connectScratchRedis(root);
});
afterAll(() => dropScratchRedis(redis, root));

describe('partition state on the real Redis', () => {
  it('a crash between the checkpoint and the Kafka commit: the replayed batch applies nothing twice', async () => {
    const s = stream(17);
    const store = newStore();
    const crashes: Crash[] = ['none', 'afterCheckpoint', 'none', 'afterCheckpoint', 'none'];
    const fresh: number[] = [];
    let replayedWrites = 0;
    let replayedBatches = 0;
    await drive(s, store, {
      windows: W,
      source: P0,
      cuts: [30],
      crashes,
      onBatch: (batch, indexes, txs) => {
        expect(batch.anomalies).toEqual([]);
        txs.forEach((t, j) => t.verdict === 'fresh' && fresh.push(indexes[j] as number));
        // A batch replayed after its checkpoint finds every entity's fence covering it.
        if (txs.some((t) => t.verdict === 'fresh')) return;
        replayedBatches++;
        replayedWrites += batch.checkpointWrites().length;
      },
    });
    expect(replayedBatches).toBe(2);
    expect(replayedWrites).toBe(0);
    expect(new Set(fresh).size).toBe(fresh.length);
    await expectStoredEqualsBruteForce(store, s);
  });

  it('crashes at every step of a batch, partial checkpoints and an offset reset', async () => {
    const s = stream(29);
    const store = newStore();
    await drive(s, store, {
      windows: W,
      source: P0,
      cuts: [17, 9, 23],
      crashes: ['beforeMysql', 'none', 'afterMysql', 'partial', 'none', 'reset', 'afterCheckpoint', 'none'],
      cacheBytes: 20_000,
      onBatch: (batch) => expect(batch.anomalies).toEqual([]),
    });
    await expectStoredEqualsBruteForce(store, s);
  });

  it('a zombie writing an older fence after the new owner changes nothing and forgets its copy', async () => {
    const s = stream(41);
    const store = newStore();
    const txs = (from: number, to: number, replayBelow = from): StateTransaction[] =>
      s.slice(from, to).map((t, j) => ({
        offset: BigInt(from + j),
        verdict: t.duplicate ? 'duplicate' : from + j < replayBelow ? 'replay' : 'fresh',
        ...t,
      }));
    const zombie = new PartitionState(store, { windows: W });
    const first = await zombie.applyBatch(P0, txs(0, 40));
    first.confirm(await store.checkpoint(first.checkpointWrites()));
    // The zombie writes 40..79 to MySQL, then stalls before its checkpoint; the new owner resumes
    // at 40 (replays: rows in MySQL, fences below them) and goes on to the end.
    const stalled = await zombie.applyBatch(P0, txs(40, 80));
    const owner = new PartitionState(store, { windows: W });
    for (const [from, to] of [
      [40, 80],
      [80, s.length],
    ] as const) {
      const b = await owner.applyBatch(P0, txs(from, to, 80));
      expect(b.anomalies).toEqual([]);
      b.confirm(await store.checkpoint(b.checkpointWrites()));
    }
    const writes = stalled.checkpointWrites();
    const outcomes = await store.checkpoint(writes);
    expect(outcomes.some((o) => o.written)).toBe(false);
    // Overtaken (the owner wrote past the zombie's fence): forgotten, re-read on next touch.
    const overtaken = outcomes.filter((o, i) => o.fence > (writes[i]?.fence ?? 0n)).length;
    expect(overtaken).toBeGreaterThan(0);
    const held = zombie.held;
    stalled.confirm(outcomes);
    expect(zombie.held).toBe(held - overtaken);
    await expectStoredEqualsBruteForce(store, s);
  });
});
