/** Simulated traffic into a deployment's transactions topic: registers the schema, frames with its id, produces. */
import type { TxmonConfig } from '../config/config.ts';
import { createKafka } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import { createRegistry, frame, registerSchema } from '../platform/schema-registry.ts';
import { avroType, schemaText } from '../schemas/index.ts';
import { topicName, valueSubject } from '../topics/topics.ts';
import { simulate, type GroundTruthSummary, type SimulateOptions } from './simulate.ts';

/** Runs `simulate` against the configured broker and registry (used by the CLI, the demo, the bench and tests). */
export async function produceSimulation(
  cfg: TxmonConfig,
  logger: Logger,
  opts: SimulateOptions,
  progress: (line: string) => void,
): Promise<GroundTruthSummary> {
  const subject = valueSubject(cfg.topicNamespace, 'transactions');
  const schemaId = await registerSchema(createRegistry(cfg), cfg.registryUrl, subject, schemaText('transaction'));
  const type = avroType('transaction');
  const producer = createKafka(cfg, logger, '-simulator').producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    return await simulate(opts, {
      producer,
      topic: topicName(cfg.topicNamespace, 'transactions'),
      encode: (tx) => frame(schemaId, type.toBuffer(tx)),
      validSchemaId: schemaId,
      progress,
    });
  } finally {
    await producer.disconnect();
  }
}
