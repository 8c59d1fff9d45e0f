/**
 * The partition-state stage (state/partition-state.ts) on simulator-shaped batches, store included,
 * against the shared Redis: CPU of this process per transaction (the ingest budget is ≤ 70 µs for
 * everything), split into the stage's apply (read-through, decodes, windows, features, encode) and
 * the checkpoint (EntityStore.checkpoint + confirm), and apart the conversion of every transaction's
 * features to EntityFeatures objects (StateBatch.features(i), what SnapshotWriter reads); Redis CPU per transaction beside it (from
 * /proc/<redis pid>/stat: includes whatever else used the shared Redis meanwhile). Not a test.
 *
 * A batch: BATCH transactions over ~300 accounts, ~550 cards, ~520 devices (per account) and ~290
 * merchants (shared by every partition; an account uses ~30 of them), default windows, event time
 * advancing so that an account sees ~50 events per 24 h (the simulator's shape).
 * Phases:
 *  - warm, one partition: the entities stay in memory (the steady state of an owner);
 *  - warm, two partitions: two instances (two processes) alternate batches on shared merchants, so
 *    every batch finds the other partition's merchant contributions moved (decoded again);
 *  - warm, six partitions, one process: one instance holding every partition (holdsAllOf), batches
 *    of BATCH / 8 in turn on a clock that moves 50 ms a batch (20 batches a second, as the fixed
 *    load's ~300-record batches), so the shared entities' per-interval refresh (or, since
 *    2026-12-07, their live views) costs what it does in the ingest;
 *  - cold: a new instance per batch (every entity read through and decoded: a restart or rebalance);
 *  - warm, one partition, no Redis: the stage alone (windows, features, encode, book-keeping) over a
 *    store that holds nothing (every entity new, then kept in memory), checkpoints confirmed as
 *    written; per batch CPU, its min and median beside the mean, as Redis is not there to blur it.
 *
 * Run: node --import tsx bench/partition-state.ts (BENCH_PSTATE_BATCH, BENCH_PSTATE_ROUNDS).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/config.ts';
import type { EntityEvent } from '../domain/entity-features.ts';
import { DEFAULT_WINDOWS } from '../domain/windows.ts';
import { createRedis, type TxmonRedis } from '../platform/redis.ts';
import { EntityStore } from '../state/entity-store.ts';
import type { SourcePartition } from '../state/keys.ts';
import { PartitionState, type StateTransaction } from '../state/partition-state.ts';

const BATCH = Number(process.env.BENCH_PSTATE_BATCH ?? 2_400);
const ROUNDS = Number(process.env.BENCH_PSTATE_ROUNDS ?? 10);
const ACCOUNTS = Math.round(BATCH / 8);
const MERCHANTS = Math.round((BATCH * 290) / 2_400);
/** Event time per transaction: ~50 events per account per 24 h, as bench/state-engine.ts's account. */
const STEP_MS = Math.round(86_400_000 / 50 / ACCOUNTS);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const COUNTRIES = ['US', 'FR', 'DE', 'GB', 'ES'];
const say = (line: string) => process.stdout.write(`${line}\n`);

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** A deterministic generator (xorshift), so runs draw the same batches. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** Batches of one partition: its own accounts, cards (~1.8 per account) and devices, shared merchants. */
function batches(partition: number, size = BATCH) {
  const r = rng(1234 + partition);
  let offset = 0;
  let t = 1_700_000_000_000;
  return (): StateTransaction[] =>
    Array.from({ length: size }, () => {
      const a = Math.floor(r() * ACCOUNTS);
      t += STEP_MS;
      const located = r() < 0.7;
      const event: EntityEvent = {
        eventTime: r() < 0.05 ? t - Math.floor(r() * 3_600_000) : t,
        amountMinor: r() < 0.02 ? null : 100 + Math.floor(r() * 50_000),
        merchantId: `m${(a * 7 + Math.floor(r() * 30)) % MERCHANTS}`,
        country: COUNTRIES[Math.floor(r() * COUNTRIES.length)] as string,
        lat: located ? 40 + r() : null,
        lon: located ? -3 + r() : null,
        late: r() < 0.01,
      };
      return {
        offset: BigInt(offset++),
        verdict: 'fresh',
        account: `p${partition}a${a}`,
        card: `p${partition}a${a}c${r() < 0.55 ? 0 : 1}`,
        merchant: event.merchantId,
        device: r() < 0.95 ? `p${partition}a${a}d${r() < 0.75 ? 0 : 1}` : null,
        event,
      };
    });
}

interface Totals {
  applyUs: number;
  /** StateBatch.features(i) for every transaction: EntityFeatures objects, what SnapshotWriter reads today. */
  convertUs: number;
  checkpointUs: number;
  redisUs: number;
  wallMs: number[];
  writes: number;
  decodes: number;
}

/** One batch of one partition through the stage and the store; CPU split as the header says. */
async function runBatch(
  ps: PartitionState,
  store: EntityStore,
  source: SourcePartition,
  txs: StateTransaction[],
  into: Totals,
  pid: number,
) {
  const redis0 = cpuSeconds(pid);
  const w0 = performance.now();
  const c0 = process.cpuUsage();
  const d0 = ps.decodes;
  const batch = await ps.applyBatch(source, txs);
  const c1 = process.cpuUsage();
  for (let i = 0; i < txs.length; i++) batch.features(i);
  const c1b = process.cpuUsage();
  const writes = batch.checkpointWrites();
  batch.confirm(await store.checkpoint(writes));
  const c2 = process.cpuUsage();
  into.wallMs.push(performance.now() - w0);
  into.applyUs += c1.user + c1.system - c0.user - c0.system;
  into.convertUs += c1b.user + c1b.system - c1.user - c1.system;
  into.checkpointUs += c2.user + c2.system - c1b.user - c1b.system;
  into.redisUs += (cpuSeconds(pid) - redis0) * 1e6;
  into.writes += writes.length;
  into.decodes += ps.decodes - d0;
}

function report(name: string, t: Totals, batchesRun: number, ps: PartitionState, size = BATCH): void {
  const tx = batchesRun * size;
  const sorted = [...t.wallMs].sort((a, b) => a - b);
  say(
    `${name.padEnd(26)} ingest ${((t.applyUs + t.checkpointUs) / tx).toFixed(1).padStart(5)} µs/tx` +
      ` (apply ${(t.applyUs / tx).toFixed(1)}, checkpoint ${(t.checkpointUs / tx).toFixed(1)})` +
      ` + to EntityFeatures ${(t.convertUs / tx).toFixed(1)}` +
      `  redis ${(t.redisUs / tx).toFixed(1)} µs/tx  writes ${(t.writes / batchesRun).toFixed(0)}/batch` +
      `  decodes ${(t.decodes / batchesRun).toFixed(0)}/batch  wall p50 ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)} ms` +
      `  held ${ps.held} (${(ps.heldBytes / 1e6).toFixed(1)} MB)`,
  );
}

const empty = (): Totals => ({ applyUs: 0, convertUs: 0, checkpointUs: 0, redisUs: 0, wallMs: [], writes: 0, decodes: 0 });

async function main(): Promise<void> {
  const prefix = `bench-pstate-${randomBytes(4).toString('hex')}`;
  const redis: TxmonRedis = createRedis(loadConfig({ ...process.env, TXMON_KEY_PREFIX: prefix }));
  await redis.connect();
  const pid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
  const windows = DEFAULT_WINDOWS;
  const sources = [0, 1].map((partition) => ({ topic: 'txmon.transactions.v1', partition }));
  try {
    const sample = batches(0)();
    const distinct = (f: (t: StateTransaction) => string | null) => new Set(sample.map(f).filter((x) => x !== null)).size;
    say(
      `batch of ${BATCH} tx: ${distinct((t) => t.account)} accounts, ${distinct((t) => t.card)} cards, ` +
        `${distinct((t) => t.device)} devices, ${distinct((t) => t.merchant)} merchants; ${ROUNDS} measured batches per phase after warm-up`,
    );
    {
      const store = new EntityStore(redis, { prefix: `${prefix}:1`, stateTtlMs: 3_600_000 });
      const ps = new PartitionState(store, { windows });
      const next = batches(0);
      const t = empty();
      for (let b = 0; b < 3; b++) await runBatch(ps, store, sources[0] as SourcePartition, next(), empty(), pid);
      for (let b = 0; b < ROUNDS; b++) await runBatch(ps, store, sources[0] as SourcePartition, next(), t, pid);
      report('warm, one partition', t, ROUNDS, ps);
    }
    {
      const store = new EntityStore(redis, { prefix: `${prefix}:2`, stateTtlMs: 3_600_000 });
      const ps = [0, 1].map(() => new PartitionState(store, { windows }));
      const next = [batches(0), batches(1)];
      const t = empty();
      for (let b = 0; b < 6 + 2 * ROUNDS; b++) {
        const p = b % 2;
        await runBatch(
          ps[p] as PartitionState,
          store,
          sources[p] as SourcePartition,
          (next[p] as () => StateTransaction[])(),
          b < 6 ? empty() : t,
          pid,
        );
      }
      report('warm, two partitions', t, 2 * ROUNDS, ps[0] as PartitionState);
    }
    {
      const store = new EntityStore(redis, { prefix: `${prefix}:6`, stateTtlMs: 3_600_000 });
      let clock = 0;
      const ps = new PartitionState(store, { windows, now: () => clock, holdsAllOf: () => true });
      const six = [0, 1, 2, 3, 4, 5].map((partition) => ({ topic: 'txmon.transactions.v1', partition }));
      for (const s of six) ps.hold(s, null);
      const size = Math.round(BATCH / 8);
      const next = six.map((s) => batches(s.partition, size));
      const t = empty();
      // Warm-up: 2 s of the clock, then 8 × ROUNDS batches (ROUNDS × 0.4 s) measured.
      const warm = 40;
      for (let b = 0; b < warm + 8 * ROUNDS; b++) {
        clock += 50;
        const p = b % six.length;
        await runBatch(
          ps,
          store,
          six[p] as SourcePartition,
          (next[p] as () => StateTransaction[])(),
          b < warm ? empty() : t,
          pid,
        );
      }
      report('warm, six in one process', t, 8 * ROUNDS, ps, size);
    }
    {
      const store = new EntityStore(redis, { prefix: `${prefix}:3`, stateTtlMs: 3_600_000 });
      const next = batches(0);
      const t = empty();
      let ps = new PartitionState(store, { windows });
      for (let b = 0; b < 3; b++) await runBatch(ps, store, sources[0] as SourcePartition, next(), empty(), pid);
      for (let b = 0; b < ROUNDS; b++) {
        ps = new PartitionState(store, { windows });
        await runBatch(ps, store, sources[0] as SourcePartition, next(), t, pid);
      }
      report('cold (new instance/batch)', t, ROUNDS, ps);
    }
    {
      const ps = new PartitionState({ read: async (refs) => refs.map(() => new Map()) }, { windows });
      const next = batches(0);
      const perBatch: number[] = [];
      for (let b = 0; b < 3 + 3 * ROUNDS; b++) {
        const c0 = process.cpuUsage();
        const batch = await ps.applyBatch(sources[0] as SourcePartition, next());
        const c1 = process.cpuUsage();
        batch.confirm(batch.checkpointWrites().map((w) => ({ written: true, fence: w.fence })));
        if (b >= 3) perBatch.push((c1.user + c1.system - c0.user - c0.system) / BATCH);
      }
      perBatch.sort((a, b) => a - b);
      const mean = perBatch.reduce((a, b) => a + b, 0) / perBatch.length;
      say(
        `${'warm, one, no Redis'.padEnd(26)} stage ${mean.toFixed(1).padStart(5)} µs/tx` +
          ` (min ${perBatch[0]?.toFixed(1)}, median ${perBatch[Math.floor(perBatch.length / 2)]?.toFixed(1)}; ${perBatch.length} batches)`,
      );
    }
  } finally {
    let cursor = '0';
    do {
      const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = nextCursor;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  }
}

await main();
