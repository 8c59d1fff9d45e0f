/** Simulated settlement lines into a deployment's settlements topic, and their ground truth as JSON lines. */
import type { Message } from 'kafkajs';
import type { TxmonConfig } from '../config/config.ts';
import type { Settlement } from '../domain/settlement.ts';
import { createKafka } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import { createRegistry, frame, registerSchema } from '../platform/schema-registry.ts';
import { avroType, schemaText } from '../schemas/index.ts';
import { topicName, valueSubject } from '../topics/topics.ts';
import { JsonlWriter } from './jsonl-writer.ts';
import type { SettlementSummary, SettlementTruthLine } from './settlements.ts';

/** Messages per sendBatch. */
export const SETTLEMENT_BATCH_SIZE = 2_000;

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/**
 * Registers the Settlement schema under the topic's subject and produces every line, keyed by its
 * transaction reference (idempotent producer, acks = all), in the order given. Returns the count sent.
 */
export async function produceSettlements(
  cfg: TxmonConfig,
  logger: Logger,
  lines: readonly Settlement[],
  progress: (line: string) => void,
): Promise<number> {
  const subject = valueSubject(cfg.topicNamespace, 'settlements');
  const schemaId = await registerSchema(createRegistry(cfg), cfg.registryUrl, subject, schemaText('settlement'));
  const type = avroType('settlement');
  const topic = topicName(cfg.topicNamespace, 'settlements');
  const producer = createKafka(cfg, logger, '-simulator').producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const started = Date.now();
    let sent = 0;
    let lastDecile = -1;
    for (let i = 0; i < lines.length; i += SETTLEMENT_BATCH_SIZE) {
      const messages: Message[] = lines.slice(i, i + SETTLEMENT_BATCH_SIZE).map((l) => ({
        key: Buffer.from(l.transaction_reference, 'utf8'),
        value: frame(schemaId, type.toBuffer(l)),
      }));
      await producer.sendBatch({ topicMessages: [{ topic, messages }], acks: -1 });
      sent += messages.length;
      const pct = Math.floor((100 * sent) / lines.length);
      if (Math.floor(pct / 10) !== lastDecile) {
        lastDecile = Math.floor(pct / 10);
        const seconds = (Date.now() - started) / 1000;
        progress(`settlements: ${fmt(sent)}/${fmt(lines.length)} (${pct}%) ${fmt(seconds > 0 ? sent / seconds : 0)} msg/s`);
      }
    }
    return sent;
  } finally {
    await producer.disconnect();
  }
}

/** Writes the settlement ground truth: one JSON line per reference, then `{"summary": ...}`. */
export async function writeSettlementGroundTruth(
  path: string,
  truth: readonly SettlementTruthLine[],
  summary: SettlementSummary,
): Promise<void> {
  const out = await JsonlWriter.open(path);
  let ok = false;
  try {
    for (const line of truth) await out.write(line);
    await out.write({ summary });
    await out.close();
    ok = true;
  } finally {
    if (!ok) out.destroy();
  }
}
