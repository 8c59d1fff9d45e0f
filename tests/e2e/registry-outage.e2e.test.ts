// Schema registry down while records with a schema id the processor has not seen yet arrive:
// they must wait (readiness red), not be dead-lettered, and land once the registry is back.
import avro from 'avsc';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../platform/kafka.ts';
import { createRegistry, frame, registerSchema } from '../../platform/schema-registry.ts';
import { sleep } from '../../platform/retry.ts';
import { groupLag } from '../../platform/batch-consumer.ts';
import { schemaText } from '../../schemas/index.ts';
import { livePid, stopPid } from '../../services/process.ts';
import { ensureRegistry, registryAnswers, registryPidFile } from '../../services/apicurio.ts';
import { generateEvents } from '../../simulator/generate.ts';
import { DEFAULT_SIM_OPTIONS } from '../../simulator/types.ts';
import { topicName, valueSubject } from '../../topics/topics.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';
import { readEndState, spawnIngest } from '../helpers/pipeline.ts';

let ns: TestNamespace | undefined;
afterAll(async () => {
  if (ns) {
    if (!(await registryAnswers(ns.cfg)).ok) await ensureRegistry(ns.cfg, () => {});
    await ns.cleanup();
  }
});

describe('schema registry outage', () => {
  it('records with a new schema id wait for the registry instead of being dead-lettered', async () => {
    ns = await createNamespace();
    const { pidFile, marker } = registryPidFile(ns.cfg);
    const pid = livePid(pidFile, marker);
    if (pid === undefined)
      throw new Error(
        'this test stops the registry, so it must be the one `txmon services up` started (.txmon/registry/registry.pid)',
      );

    // A compatible v2 of the Transaction schema, registered before the outage.
    const v2 = JSON.parse(schemaText('transaction')) as { fields: unknown[] };
    v2.fields.push({ name: 'loyalty_tier', type: ['null', 'string'], default: null });
    const v2Id = await registerSchema(
      createRegistry(ns.cfg),
      ns.cfg.registryUrl,
      valueSubject(ns.cfg.topicNamespace, 'transactions'),
      JSON.stringify(v2),
    );
    const v2Type = avro.Type.forSchema(v2 as avro.Schema);
    const txs = [];
    for (const e of generateEvents({ ...DEFAULT_SIM_OPTIONS, seed: 31, count: 3_000, duplicateRate: 0, malformedRate: 0 })) {
      if (e.kind === 'valid') txs.push({ ...e.tx, transaction_id: `v2-${e.tx.transaction_id}`, loyalty_tier: 'gold' });
    }

    const run = spawnIngest(ns, []);
    const topic = topicName(ns.cfg.topicNamespace, 'transactions');
    const kafka = createKafka(ns.cfg, testLogger);
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      for (let i = 0; i < 150 && !/joined consumer group/.test(run.output()); i++) await sleep(100);
      expect(run.output()).toMatch(/joined consumer group/);
      await stopPid(pid, 30_000);
      expect((await registryAnswers(ns.cfg)).ok).toBe(false);

      await producer.send({
        topic,
        acks: -1,
        messages: txs.map((tx) => ({ key: tx.account_id, value: frame(v2Id, v2Type.toBuffer(tx)) })),
      });
      await sleep(4_000);
      expect(await groupLag(admin, ns.cfg.ingest.groupId, topic)).toBe(txs.length); // nothing committed
      const port = /"url":"http:\/\/127\.0\.0\.1:(\d+)\/metrics"/.exec(run.output())?.[1];
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.text()).toContain('schema-registry');

      await ensureRegistry(ns.cfg, () => {});
      for (let i = 0; i < 600 && (await groupLag(admin, ns.cfg.ingest.groupId, topic)) > 0; i++) await sleep(100);
      run.child.kill('SIGTERM');
      expect(await run.exited, run.output()).toBe(0);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
    const state = await readEndState(ns);
    expect(state.transactionIds.length).toBe(txs.length);
    expect(state.deadLetters).toEqual([]);
    expect(state.lag).toBe(0);
  });
});
