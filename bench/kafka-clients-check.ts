/**
 * The properties of @platformatic/kafka that the hot path's Kafka transaction relies on, observed
 * against the real broker (kafkajs's are proved by the ingest's crash and replay tests):
 *  - atomic: an aborted transaction's records stay invisible to read_committed and its offsets are
 *    not committed; a committed one's are both;
 *  - zombie fencing: a second producer with the same transactional id fences the first, whose
 *    open transaction is aborted and whose commit fails;
 *  - group fencing (KIP-447): an offset sent with a generation the group is not at is refused.
 * Each function returns what it saw; bench/kafka-clients.ts checks it before measuring and
 * tests/integration/platformatic-kafka.test.ts asserts it. Import only on Node ≥ 22.22.
 */
import { Consumer, FetchIsolationLevels, MessagesStreamModes, Producer, type Message } from '@platformatic/kafka';
import type { TxmonConfig } from '../config/config.ts';
import { sleep } from '../platform/retry.ts';
import { PlatformaticSide, TAKE_OVER, baseOptions } from './kafka-platformatic.ts';

/** Reads the values of the first `count` records of `topic` from the beginning, in a group of its own. */
export async function readValues(
  cfg: TxmonConfig,
  topic: string,
  count: number,
  committedOnly: boolean,
  group: string,
): Promise<string[]> {
  const consumer = new Consumer({ ...baseOptions(cfg, `${group}-reader`), groupId: group, maxWaitTime: 500 });
  const values: string[] = [];
  try {
    const stream = await consumer.consume({
      topics: [topic],
      mode: MessagesStreamModes.EARLIEST,
      autocommit: false,
      isolationLevel: committedOnly ? FetchIsolationLevels.READ_COMMITTED : FetchIsolationLevels.READ_UNCOMMITTED,
    });
    const timer = setTimeout(() => void stream.close(), 15_000);
    for await (const m of stream) {
      values.push(m.value.toString());
      if (values.length >= count) break;
    }
    clearTimeout(timer);
    await stream.close().catch(() => {});
  } finally {
    await consumer.close(true);
  }
  return values;
}

export interface AtomicityObserved {
  /** The group's committed offset 500 ms after the aborted transaction (which sent offset 41 + 1). */
  afterAbort: bigint;
  /** After the committed transaction (offset 99 + 1), once its commit markers are written (polled up to 5 s). */
  afterCommit: bigint;
  /** The first 2 records read_committed sees: the committed transaction's. */
  readCommitted: string[];
  /** The first 5 records read_uncommitted sees: the aborted 3 were written. */
  readUncommitted: string[];
}

/**
 * Polls the group's committed offset until it is `want` or `ms` pass; returns the last seen. A
 * transaction's offsets become the group's when the coordinator writes its commit marker, a few
 * ms after EndTxn returns, so one read right after a commit may still see the previous offset.
 */
async function offsetWithin(side: PlatformaticSide, topic: string, want: bigint | undefined, ms: number): Promise<bigint> {
  const until = Date.now() + ms;
  for (;;) {
    const got = await side.committedOffset(topic, 0);
    if (got === want || Date.now() >= until) return got;
    await sleep(50);
  }
}

/** One aborted transaction (3 records + an offset), then one committed (2 records + an offset), on partition 0 of `topic`. */
export async function checkAtomicity(cfg: TxmonConfig, ns: string, input: string, topic: string): Promise<AtomicityObserved> {
  const side = new PlatformaticSide(cfg, `${ns}atomic.`);
  try {
    await side.joinInput(input, 1);
    const records = (name: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: Buffer.from(`${name}-${i}`), partition: 0 }));
    await side.commit(topic, records('aborted', 3), [0], 41, 'abort');
    // Never 42: polled for the whole 500 ms, any sighting of it is returned.
    const afterAbort = await offsetWithin(side, input, 42n, 500);
    await side.commit(topic, records('committed', 2), [0], 99);
    const afterCommit = await offsetWithin(side, input, 100n, 5_000);
    return {
      afterAbort,
      afterCommit,
      readCommitted: await readValues(cfg, topic, 2, true, `${ns}atomic-rc`),
      readUncommitted: await readValues(cfg, topic, 5, false, `${ns}atomic-ru`),
    };
  } finally {
    await side.close();
  }
}

export interface FencingObserved {
  /** The error of the second producer's initialisation (undefined: it started). */
  secondInitError: string | undefined;
  /** The error of the first producer's commit after the second one started (undefined: it committed). */
  zombieCommitError: string | undefined;
  /** What read_committed sees of the two producers' records. */
  readCommitted: string[];
}

/**
 * Producer A opens a transaction and sends 'zombie'; producer B, same transactional id, starts,
 * sends 'winner' and commits; then A tries to commit. `takeOver`: both built with TAKE_OVER (the
 * bench's producers), else with the client's defaults (kafkajs-style options only).
 */
export async function checkZombieFencing(
  cfg: TxmonConfig,
  ns: string,
  topic: string,
  takeOver: boolean,
): Promise<FencingObserved> {
  const transactionalId = `${ns}zombie-${takeOver ? 'take-over' : 'default'}`;
  const options = { ...baseOptions(cfg, transactionalId), transactionalId, ...(takeOver ? TAKE_OVER : { idempotent: true }) };
  const a = new Producer(options);
  const b = new Producer(options);
  try {
    const txA = await a.beginTransaction();
    await txA.send({ messages: [{ topic, partition: 0, value: Buffer.from('zombie') }] });
    let secondInitError: string | undefined;
    try {
      const txB = await b.beginTransaction();
      await txB.send({ messages: [{ topic, partition: 0, value: Buffer.from('winner') }] });
      await txB.commit();
    } catch (err) {
      secondInitError = describe(err);
    }
    let zombieCommitError: string | undefined;
    await txA.commit().catch((err: unknown) => (zombieCommitError = describe(err)));
    return { secondInitError, zombieCommitError, readCommitted: await readValues(cfg, topic, 1, true, `${transactionalId}-rc`) };
  } finally {
    await a.close().catch(() => {});
    await b.close().catch(() => {});
  }
}

/** The error of an offset sent with a generation the group is not at (undefined: it was accepted). */
export async function checkGenerationFencing(cfg: TxmonConfig, ns: string, input: string): Promise<string | undefined> {
  const side = new PlatformaticSide(cfg, `${ns}generation.`);
  try {
    await side.joinInput(input, 1);
    const seed = side.offsetAt(0, 7);
    const consumer = seed.metadata.consumer as Record<string, unknown>;
    const stale: Message = {
      ...seed,
      metadata: { ...seed.metadata, consumer: { ...consumer, generationId: Number(consumer.generationId) + 1 } },
    };
    const tx = await side.producer.beginTransaction();
    let error: string | undefined;
    try {
      await tx.addConsumer(side.consumer as Consumer);
      await tx.addOffset(stale);
    } catch (err) {
      error = describe(err);
    }
    await tx.abort().catch(() => {});
    return error;
  } finally {
    await side.close();
  }
}

/**
 * Offsets of 4 partitions added to one transaction by concurrent addOffset calls: the client runs
 * one TxnOffsetCommit per operation name at a time and hands its result to every concurrent
 * caller, so only the first partition's offset is sent while every call resolves. Returns the
 * committed offsets (wanted: 21, 22, 23, 24).
 */
export async function checkConcurrentAddOffset(cfg: TxmonConfig, ns: string, input: string): Promise<bigint[]> {
  const side = new PlatformaticSide(cfg, `${ns}concurrent.`);
  try {
    await side.joinInput(input, 4);
    const tx = await side.producer.beginTransaction();
    await tx.addConsumer(side.consumer as Consumer);
    await Promise.all([0, 1, 2, 3].map((p) => tx.addOffset(side.offsetAt(p, 20 + p))));
    await tx.commit();
    await sleep(500);
    return Promise.all([0, 1, 2, 3].map((p) => side.committedOffset(input, p)));
  } finally {
    await side.close();
  }
}

/** An error's message with the codes of its nested causes (the client wraps broker errors). */
function describe(err: unknown): string {
  const parts: string[] = [];
  let e = err as { message?: unknown; code?: unknown; apiCode?: unknown; errors?: unknown[]; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 5; depth++) {
    parts.push(String(e.message ?? e));
    if (Array.isArray(e.errors) && e.errors.length > 0) e = e.errors[0] as typeof e;
    else e = e.cause as typeof e;
  }
  return parts.join(' <- ');
}

/** Runs the checks in `ns` (topics `<topic>`, `-input`, `-zombie`, `-zombie-default`, `-input-gen`, `-input-concurrent`); one line per property, or throws naming the one that does not hold. */
export async function checkPlatformatic(cfg: TxmonConfig, ns: string, topic: string): Promise<string[]> {
  const atomic = await checkAtomicity(cfg, ns, `${topic}-input`, topic);
  const fencing = await checkZombieFencing(cfg, ns, `${topic}-zombie`, true);
  const defaults = await checkZombieFencing(cfg, ns, `${topic}-zombie-default`, false);
  const generation = await checkGenerationFencing(cfg, ns, `${topic}-input-gen`);
  const concurrent = await checkConcurrentAddOffset(cfg, ns, `${topic}-input-concurrent`);
  const fail = (what: string) => {
    throw new Error(`@platformatic/kafka self-check: ${what}`);
  };
  if (atomic.afterAbort === 42n) fail('the aborted transaction committed its offset');
  if (atomic.afterCommit !== 100n) fail(`the committed transaction's offset is ${atomic.afterCommit}, not 100`);
  if (atomic.readCommitted.join() !== 'committed-0,committed-1') fail(`read_committed saw ${atomic.readCommitted.join()}`);
  if (atomic.readUncommitted.filter((v) => v.startsWith('aborted')).length !== 3)
    fail('the aborted records were not written at all');
  if (fencing.secondInitError !== undefined) fail(`the second producer did not start: ${fencing.secondInitError}`);
  if (fencing.zombieCommitError === undefined) fail('the zombie producer committed');
  if (fencing.readCommitted.join() !== 'winner') fail(`read_committed saw ${fencing.readCommitted.join()} of the zombie test`);
  if (generation === undefined) fail('an offset with a stale generation was accepted');
  return [
    `aborted: offset stayed ${atomic.afterAbort}, records invisible to read_committed; committed: offset ${atomic.afterCommit}, records visible`,
    `zombie fenced (TAKE_OVER): ${fencing.zombieCommitError}`,
    `with the client's default InitProducerId: second producer ${defaults.secondInitError === undefined ? 'started' : `refused (${defaults.secondInitError})`},` +
      ` first producer ${defaults.zombieCommitError === undefined ? 'committed' : `fenced (${defaults.zombieCommitError})`}; read_committed saw ${defaults.readCommitted.join()}`,
    `stale generation refused: ${generation}`,
    `offsets of 4 partitions by concurrent addOffset calls: committed ${concurrent.join(', ')} (sent 21, 22, 23, 24; the bench awaits them in turn)`,
  ];
}
