/** `txmon simulate`'s I/O: produces the generated stream to Kafka at a rate and writes its ground truth. */
import type { Message, Producer } from 'kafkajs';
import { ConfigError, TxmonError } from '../platform/errors.ts';
import { HEADER_BYTES, UNKNOWN_SCHEMA_ID, frame } from './codec.ts';
import { DUPLICATE_WINDOW, generateEvents } from './generate.ts';
import { GroundTruth, type GroundTruthSummary } from './ground-truth.ts';
import { JsonlWriter } from './jsonl-writer.ts';
import type { SimEvent, SimOptions, Transaction, TransactionEncoder } from './types.ts';

export { frame } from './codec.ts';
export type { GroundTruthSummary } from './ground-truth.ts';

export interface SimulateDeps {
  producer: Producer;
  topic: string;
  /** Registry framing: magic 0 + 4-byte schema id + Avro body. */
  encode: (tx: Transaction) => Buffer;
  /** The schema id `encode` writes; checked, and kept apart from the unknown id. */
  validSchemaId: number;
  progress: (line: string) => void;
  /** Clock in ms; tests replace it. */
  now?: () => number;
  /** Sleep; tests replace it. */
  sleep?: (ms: number) => Promise<void>;
}

export type SimulateOptions = SimOptions & {
  /** Records per second; 0 = as fast as possible. */
  ratePerSecond: number;
  groundTruthPath?: string;
  /**
   * Generate and encode every record before the first is sent, then only send at the rate (the
   * bench's fixed load: the load generator shares the machine with what it measures, so its CPU
   * while it sends should be the sending's alone). Memory: every record at once.
   */
  pregenerate?: boolean;
  /** Called when the first record is about to be sent (after the pre-generation, if any). */
  onSendStart?: () => void;
};

/** Messages per sendBatch when not rate limited. */
export const BATCH_SIZE = 2_000;

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Checks the encoder's header and returns it as a function that also gives the bare Avro body. */
function checkedEncoder(
  encode: TransactionEncoder,
  schemaId: number,
): { encode: TransactionEncoder; body: (tx: Transaction) => Buffer } {
  const checked = (tx: Transaction): Buffer => {
    const bytes = encode(tx);
    if (bytes.length < HEADER_BYTES || bytes[0] !== 0 || bytes.readInt32BE(1) !== schemaId) {
      throw new TxmonError('INVARIANT_BROKEN', `simulate: encode() must frame with magic byte 0 and schema id ${schemaId}`);
    }
    return bytes;
  };
  return { encode: checked, body: (tx) => checked(tx).subarray(HEADER_BYTES) };
}

/**
 * Produces the simulated stream to `deps.topic` (key = account id, acks = all), writes one ground-truth
 * line per record plus a final `{"summary": ...}` line, and returns the summary.
 */
export async function simulate(opts: SimulateOptions, deps: SimulateDeps): Promise<GroundTruthSummary> {
  if (!(opts.ratePerSecond >= 0) || !Number.isFinite(opts.ratePerSecond)) {
    throw new ConfigError(`simulate: option ratePerSecond must be a non-negative number, got ${opts.ratePerSecond}`);
  }
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const unknownSchemaId = deps.validSchemaId === UNKNOWN_SCHEMA_ID ? UNKNOWN_SCHEMA_ID - 1 : UNKNOWN_SCHEMA_ID;
  const codec = checkedEncoder(deps.encode, deps.validSchemaId);
  const rate = opts.ratePerSecond;
  // Rate-limited runs send about ten batches a second so the rate is smooth.
  const batchSize = rate > 0 ? Math.min(BATCH_SIZE, Math.max(1, Math.ceil(rate / 10))) : BATCH_SIZE;

  const truth = new GroundTruth();
  // Valid records of the last DUPLICATE_WINDOW positions, so a duplicate re-sends the very same bytes.
  const recent = new Map<number, { key: Buffer; value: Buffer }>();
  const out = opts.groundTruthPath === undefined ? undefined : await JsonlWriter.open(opts.groundTruthPath);

  let started = now();
  let sent = 0;
  let transactions = 0;
  let lastReport = started;
  let lastDecile = -1;
  let batch: Message[] = [];
  // Every record, when pre-generated (opts.pregenerate); sent after the loop.
  const pending: Message[] | null = opts.pregenerate === true ? [] : null;

  const report = (): void => {
    const t = now();
    const pct = opts.count === 0 ? 100 : Math.floor((100 * transactions) / opts.count);
    const decile = Math.floor(pct / 10);
    if (t - lastReport < 1000 && decile === lastDecile) return;
    lastReport = t;
    lastDecile = decile;
    const perSecond = t > started ? (sent * 1000) / (t - started) : 0;
    deps.progress(`simulate: ${fmt(transactions)}/${fmt(opts.count)} (${pct}%) ${fmt(perSecond)} msg/s`);
  };

  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    if (sent === 0) {
      // The first send: the rate counts from here, not from the start of a pre-generation.
      started = now();
      lastReport = started;
      opts.onSendStart?.();
    }
    if (rate > 0) {
      const due = started + ((sent + batch.length) * 1000) / rate;
      const wait = due - now();
      if (wait > 0) await sleep(wait);
    }
    await deps.producer.sendBatch({ topicMessages: [{ topic: deps.topic, messages: batch }], acks: -1 });
    sent += batch.length;
    batch = [];
    report();
  };

  const message = (event: SimEvent, seq: number): { key: Buffer | null; value: Buffer } => {
    switch (event.kind) {
      case 'valid':
      case 'invalid':
        return { key: Buffer.from(event.tx.account_id, 'utf8'), value: codec.encode(event.tx) };
      case 'duplicate': {
        const original = recent.get(event.of);
        if (original === undefined)
          throw new TxmonError('INVARIANT_BROKEN', `simulate: record ${seq} duplicates ${event.of}, not cached`);
        return original;
      }
      case 'bad-bytes':
        return { key: event.key === null ? null : Buffer.from(event.key, 'utf8'), value: event.value };
      case 'unknown-schema':
        return {
          key: event.key === null ? null : Buffer.from(event.key, 'utf8'),
          value: frame(unknownSchemaId, codec.body(event.payloadOf)),
        };
    }
  };

  let ok = false;
  try {
    for (const event of generateEvents(opts, codec.encode)) {
      const line = truth.add(event);
      const msg = message(event, line.seq);
      if (event.kind === 'valid') {
        recent.set(line.seq, msg as { key: Buffer; value: Buffer });
        for (const old of recent.keys()) {
          if (old >= line.seq - DUPLICATE_WINDOW) break;
          recent.delete(old);
        }
      }
      if (event.kind === 'valid' || event.kind === 'invalid') transactions++;
      // A fresh message object each time: the client may annotate what it is given.
      if (pending !== null) pending.push({ key: msg.key, value: msg.value });
      else batch.push({ key: msg.key, value: msg.value });
      if (out) await out.write(line);
      if (batch.length >= batchSize) await flush();
    }
    if (pending !== null) {
      deps.progress(`simulate: ${fmt(pending.length)} records generated and encoded; sending them`);
      for (let i = 0; i < pending.length; i += batchSize) {
        batch = pending.slice(i, i + batchSize);
        await flush();
      }
    }
    await flush();
    const summary = truth.summary();
    if (out) {
      await out.write({ summary });
      await out.close();
    }
    ok = true;
    report();
    return summary;
  } finally {
    if (!ok) out?.destroy();
  }
}
