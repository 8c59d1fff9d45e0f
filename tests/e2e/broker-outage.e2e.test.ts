// The broker itself down for seconds mid-stream: the processor waits and resumes by itself, and
// the end state equals the ground truth (nothing lost, nothing doubled).
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../platform/kafka.ts';
import { sleep } from '../../platform/retry.ts';
import { groupLag } from '../../platform/batch-consumer.ts';
import { topicName } from '../../topics/topics.ts';
import { kafkaAddress } from '../../services/addresses.ts';
import { ensureKafka, kafkaAnswers, kafkaPidFile } from '../../services/kafka.ts';
import { livePid, stopPid } from '../../services/process.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';
import { expectEndStateOf, produceSimulated, readEndState, spawnIngest } from '../helpers/pipeline.ts';

let ns: TestNamespace | undefined;
afterAll(async () => {
  if (ns) {
    await ensureKafka(ns.cfg, () => {});
    await ns.cleanup();
  }
});

describe('broker outage', () => {
  it('Kafka down for seconds mid-stream: resumes by itself, same end state', async () => {
    ns = await createNamespace({ TXMON_INGEST_MAX_BYTES_PER_PARTITION: '8192', TXMON_INGEST_CONCURRENCY: '1' });
    const { pidFile, marker } = kafkaPidFile(ns.cfg);
    const pid = livePid(pidFile, marker);
    if (pid === undefined)
      throw new Error('this test stops the broker, so it must be the one `txmon services up` started (.txmon/kafka/kafka.pid)');
    const sim = await produceSimulated(ns, { seed: 51, count: 20_000 });

    const run = spawnIngest(ns, ['--drain']);
    // Stop the broker once the processor is busy (its first progress line), with most still to do.
    for (let i = 0; i < 300 && !/"processed":[1-9]/.test(run.output()); i++) await sleep(50);
    const admin = createKafka(ns.cfg, testLogger).admin();
    await admin.connect();
    const lagAtStop = await groupLag(admin, ns.cfg.ingest.groupId, topicName(ns.cfg.topicNamespace, 'transactions'));
    await admin.disconnect();
    expect(lagAtStop).toBeGreaterThan(5_000);
    await stopPid(pid, 30_000);
    expect((await kafkaAnswers(kafkaAddress(ns.cfg), 'txmon-test')).ok).toBe(false);
    await sleep(5_000);
    await ensureKafka(ns.cfg, () => {});

    const exited = await Promise.race([run.exited, sleep(90_000).then(() => 'timeout' as const)]);
    if (exited === 'timeout') run.child.kill('SIGKILL');
    expect(exited, run.output().slice(-6_000)).toBe(0);
    expectEndStateOf(await readEndState(ns), sim);
  });
});
