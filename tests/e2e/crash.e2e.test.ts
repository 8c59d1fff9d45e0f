// Crash safety: SIGKILL the ingest process mid-stream several times at random points, restart it,
// and the end state equals what the ground truth says a clean single pass leaves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../platform/kafka.ts';
import { sleep } from '../../platform/retry.ts';
import { groupLag } from '../../platform/batch-consumer.ts';
import { topicName } from '../../topics/topics.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';
import { checkStateAgainstMysql } from '../helpers/state-check.ts';
import {
  countByClass,
  expectEndStateOf,
  expectedEndState,
  killAtRandomPoints,
  produceSimulated,
  readEndState,
  spawnIngest,
  type Simulated,
} from '../helpers/pipeline.ts';

let ns: TestNamespace;
let sim: Simulated;

beforeAll(async () => {
  // Small fetches make many batches, so kills land between and inside batch effects.
  ns = await createNamespace({ TXMON_INGEST_MAX_BYTES_PER_PARTITION: '16384' });
  sim = await produceSimulated(ns, { seed: 11, count: 15_000 });
});
afterAll(async () => {
  await ns?.cleanup();
});

describe('crash safety', () => {
  it('SIGKILL at random points loses nothing and doubles nothing', async () => {
    const lagAfterKills = await killAtRandomPoints(ns, 4);
    const final = spawnIngest(ns, ['--drain']);
    expect(await final.exited, final.output()).toBe(0);

    const state = await readEndState(ns);
    // The kills happened mid-stream, not after the end.
    expect(lagAfterKills).toBeGreaterThan(0);
    expectEndStateOf(state, sim);
    const byClass = countByClass(state.deadLetters);
    expect(byClass.UNKNOWN_SCHEMA_ID ?? 0).toBe(sim.summary.unknown_schema);
    // Windows in Redis equal a recomputation from MySQL: no event applied twice or lost.
    const check = await checkStateAgainstMysql(ns);
    expect(check.entities).toBeGreaterThan(50);
    expect(check.mismatches.slice(0, 10)).toEqual([]);
    // Five processor runs over 15,000 records (the kills land by lag, so as many batches in as with
    // more; the volume runs belong to the bench and the outside check).
  }, 360_000);
});

describe('graceful shutdown', () => {
  it('SIGTERM mid-stream finishes the in-flight batch, exits 0, and a restart completes the stream exactly', async () => {
    const own = await createNamespace({ TXMON_INGEST_MAX_BYTES_PER_PARTITION: '8192', TXMON_INGEST_CONCURRENCY: '1' });
    try {
      const ownSim = await produceSimulated(own, { seed: 12, count: 8_000 });
      const topic = topicName(own.cfg.topicNamespace, 'transactions');
      const admin = createKafka(own.cfg, testLogger).admin();
      await admin.connect();
      const total = await groupLag(admin, own.cfg.ingest.groupId, topic);
      const run = spawnIngest(own, []);
      while ((await groupLag(admin, own.cfg.ingest.groupId, topic)) >= total) await sleep(20);
      const signalledAt = Date.now();
      run.child.kill('SIGTERM');
      expect(await run.exited, run.output()).toBe(0);
      expect(Date.now() - signalledAt).toBeLessThan(own.cfg.shutdownTimeoutMs);
      expect(run.output()).toMatch(/SIGTERM received/);
      const lagAfterStop = await groupLag(admin, own.cfg.ingest.groupId, topic);
      await admin.disconnect();
      expect(lagAfterStop).toBeGreaterThan(0);

      const rest = spawnIngest(own, ['--drain']);
      expect(await rest.exited, rest.output()).toBe(0);
      const state = await readEndState(own);
      const want = expectedEndState(ownSim);
      expect(state.transactionIds).toEqual(want.transactionIds);
      expect(state.duplicateIds).toEqual(want.duplicateIds);
      expect(state.lateIds).toEqual(want.lateIds);
      expect(state.deadLetters.length).toBe(want.deadLetterCount);
      expect(state.lag).toBe(0);
    } finally {
      await own.cleanup();
    }
  });
});
