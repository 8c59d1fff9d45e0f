// Crash safety at the batch's own seams (docs/state.md "One batch, in order"): the ingest process is
// SIGKILLed right after a batch's MySQL commit, right after its Redis checkpoint (before Kafka's
// commit) and right after Kafka's commit (between two checkpoints: the next process restores the gap
// by replay); then three processes share the group while one of them is killed and another joins.
// The end state equals one clean pass, and the windows a recomputation once a last owner has
// restored what members stopped mid-restore left behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../platform/retry.ts';
import { groupLag } from '../../platform/batch-consumer.ts';
import { createKafka } from '../../platform/kafka.ts';
import { topicName } from '../../topics/topics.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';
import { checkStateAgainstMysql } from '../helpers/state-check.ts';
import { expectEndStateOf, produceSimulated, readEndState, spawnIngest, type Simulated } from '../helpers/pipeline.ts';
import { createConnection } from '../../platform/mysql.ts';
import type { RowDataPacket } from 'mysql2/promise';

let ns: TestNamespace;
let sim: Simulated;

beforeAll(async () => {
  // Small fetches make many batches, so each kill lands several batches into the stream.
  ns = await createNamespace({ TXMON_INGEST_MAX_BYTES_PER_PARTITION: '16384' });
  sim = await produceSimulated(ns, { seed: 17, count: 12_000 });
});
const others: TestNamespace[] = [];
afterAll(async () => {
  await ns?.cleanup();
  for (const o of others) await o.cleanup();
});

async function rows(): Promise<number> {
  const conn = await createConnection(ns.cfg);
  try {
    const [[r]] = await conn.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM transactions');
    return Number(r?.n);
  } finally {
    await conn.end();
  }
}

describe('kills at the batch seams, and a group that loses and gains members', () => {
  it('SIGKILL after MySQL, after the checkpoint and after the Kafka commit, then 3 members with a kill and a join: exact end state', async () => {
    // With a checkpoint per 5 s (the default), and with one a minute: a process killed after
    // Kafka's commit leaves the windows of several batches only in its memory (the progress in Redis
    // trails the commit), and the next process must restore them by replay.
    const kills: Array<{ at: string; env?: Record<string, string>; restores?: true }> = [
      { at: 'after-mysql:3' },
      { at: 'after-checkpoint:2' },
      { at: 'after-commit:3' },
      { at: 'after-commit:8', env: { TXMON_STATE_CHECKPOINT_MS: '60000' } },
      { at: 'after-checkpoint:4', restores: true },
    ];
    for (const k of kills) {
      const run = spawnIngest(ns, [], { TXMON_FAULT_KILL_AT: k.at, ...k.env });
      // Killed by itself at that point: no exit code, and its last words name the point.
      expect(await run.exited, run.output().slice(-3000)).toBeNull();
      expect(run.output()).toContain('TXMON_FAULT_KILL_AT: killing this process');
      // The run after the minute-interval kill found batches Kafka committed beyond Redis's progress.
      if (k.restores) expect(run.output()).toMatch(/restoring the partition’s windows/);
    }
    const afterSeams = await rows();
    expect(afterSeams).toBeGreaterThan(0);
    expect(afterSeams).toBeLessThan(sim.summary.valid_unique);

    // Three members at once; one is killed once rows move, a fourth joins, a draining fifth ends it.
    const members = [spawnIngest(ns, []), spawnIngest(ns, []), spawnIngest(ns, [])];
    const start = await rows();
    const deadline = Date.now() + 120_000;
    while ((await rows()) === start && Date.now() < deadline) await sleep(100);
    members[1]?.child.kill('SIGKILL');
    await members[1]?.exited;
    members.push(spawnIngest(ns, []));
    const final = spawnIngest(ns, ['--drain']);
    expect(await final.exited, final.output().slice(-4000)).toBe(0);
    for (const m of [members[0], members[2], members[3]]) {
      m?.child.kill('SIGTERM');
      expect(await m?.exited, m?.output().slice(-3000)).toBe(0);
    }
    // The drain's own partitions were restored before it exited, but a member stopped while it was
    // replaying the killed member's gap, or one given such a partition as others left, leaves that
    // gap for the partition's next owner (docs/state.md, "When"): here, a last drain alone.
    const last = spawnIngest(ns, ['--drain']);
    expect(await last.exited, last.output().slice(-4000)).toBe(0);

    expectEndStateOf(await readEndState(ns), sim);
    const check = await checkStateAgainstMysql(ns);
    expect(check.entities).toBeGreaterThan(50);
    expect(check.mismatches.slice(0, 10)).toEqual([]);
  }, 420_000);

  it('a drain started when the offsets are already at the end still restores the windows a crash between checkpoints left behind', async () => {
    // A process with a checkpoint a minute consumes the whole stream in small batches, and is SIGKILLed once its
    // offsets reach the end: Redis's progress is its first checkpoint, Kafka's commits are at the
    // end. The drain that follows has no lag to wait for; it must still join, find the gap and
    // replay it before it calls the stream done.
    const own = await createNamespace();
    others.push(own);
    const sim = await produceSimulated(own, { seed: 29, count: 3_000 });
    const topic = topicName(own.cfg.topicNamespace, 'transactions');
    const admin = createKafka(own.cfg, testLogger).admin();
    await admin.connect();
    try {
      const first = spawnIngest(own, [], { TXMON_STATE_CHECKPOINT_MS: '60000', TXMON_INGEST_MAX_BYTES_PER_PARTITION: '16384' });
      const deadline = Date.now() + 120_000;
      while ((await groupLag(admin, own.cfg.ingest.groupId, topic)) > 0 && Date.now() < deadline) await sleep(100);
      expect(await groupLag(admin, own.cfg.ingest.groupId, topic), first.output().slice(-3000)).toBe(0);
      first.child.kill('SIGKILL');
      await first.exited;
    } finally {
      await admin.disconnect();
    }
    const drain = spawnIngest(own, ['--drain']);
    expect(await drain.exited, drain.output().slice(-4000)).toBe(0);
    expectEndStateOf(await readEndState(own), sim);
    const check = await checkStateAgainstMysql(own);
    expect(check.entities).toBeGreaterThan(50);
    expect(check.mismatches.slice(0, 10)).toEqual([]);
    expect(drain.output()).toMatch(/restoring the partition’s windows/);
  }, 300_000);
});
