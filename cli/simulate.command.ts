/** `txmon simulate`: produce synthetic traffic to the transactions topic and write the ground truth. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { TxmonConfig } from '../config/config.ts';
import { isKnownCurrency } from '../domain/currencies.ts';
import { ConfigError } from '../platform/errors.ts';
import { createKafka } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import { createRegistry, frame, registerSchema } from '../platform/registry.ts';
import { avroType, schemaText } from '../schemas/index.ts';
import { simulate, type GroundTruthSummary } from '../simulator/simulate.ts';
import { DEFAULT_SIM_OPTIONS } from '../simulator/types.ts';
import { topicName, valueSubject } from '../topics/topics.ts';
import type { SimulateCliOptions } from './main.ts';

export async function runSimulate(
  cfg: TxmonConfig,
  logger: Logger,
  o: SimulateCliOptions,
  say: (line: string) => void,
): Promise<GroundTruthSummary> {
  const currencies = o.currencies.split(',').map((c) => c.trim().toUpperCase());
  const unknown = currencies.filter((c) => !isKnownCurrency(c));
  if (unknown.length > 0) throw new ConfigError(`--currencies: not ISO 4217: ${unknown.join(', ')}`);
  const startTime = Date.parse(o.start);
  if (Number.isNaN(startTime)) throw new ConfigError(`--start: not an ISO 8601 time: ${o.start}`);

  const topic = topicName(cfg.topicNamespace, 'transactions');
  const registry = createRegistry(cfg);
  const schemaId = await registerSchema(
    registry,
    cfg.registryUrl,
    valueSubject(cfg.topicNamespace, 'transactions'),
    schemaText('transaction'),
  );
  const type = avroType('transaction');
  const producer = createKafka(cfg, logger, '-simulator').producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  mkdirSync(dirname(o.groundTruth), { recursive: true });
  try {
    const summary = await simulate(
      {
        ...DEFAULT_SIM_OPTIONS,
        seed: o.seed,
        count: o.count,
        accounts: o.accounts,
        merchants: o.merchants,
        cardsPerAccount: o.cardsPerAccount,
        currencies,
        startTime,
        duplicateRate: o.duplicateRate,
        outOfOrderRate: o.outOfOrderRate,
        lateRate: o.lateRate,
        malformedRate: o.malformedRate,
        fraudRate: o.fraudRate,
        ratePerSecond: o.rate,
        groundTruthPath: o.groundTruth,
      },
      { producer, topic, encode: (tx) => frame(schemaId, type.toBuffer(tx)), validSchemaId: schemaId, progress: say },
    );
    say(`simulate: ${summary.records.toLocaleString('en')} records to ${topic}; ground truth in ${o.groundTruth}`);
    return summary;
  } finally {
    await producer.disconnect();
  }
}
