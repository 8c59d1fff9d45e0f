import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Producer, ProducerBatch } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { TxmonError } from '../platform/errors.ts';
import { frame, UNKNOWN_SCHEMA_ID } from './codec.ts';
import type { GroundTruthLine } from './ground-truth.ts';
import { BATCH_SIZE, simulate, type SimulateDeps } from './simulate.ts';
import { decode, encode, options, TEST_SCHEMA_ID, transactionType } from '../tests/helpers/simulator.ts';
import type { Transaction } from './types.ts';

interface Sent {
  key: Buffer | null;
  value: Buffer;
}

function fakeProducer(): { producer: Producer; batches: ProducerBatch[]; sent: Sent[] } {
  const batches: ProducerBatch[] = [];
  const sent: Sent[] = [];
  const producer = {
    sendBatch: (batch: ProducerBatch) => {
      batches.push(batch);
      for (const tm of batch.topicMessages ?? [])
        for (const m of tm.messages) sent.push({ key: m.key as Buffer | null, value: m.value as Buffer });
      return Promise.resolve([]);
    },
  } as unknown as Producer;
  return { producer, batches, sent };
}

function deps(producer: Producer, extra: Partial<SimulateDeps> = {}): SimulateDeps & { lines: string[] } {
  const lines: string[] = [];
  return {
    producer,
    topic: 't.transactions',
    encode,
    validSchemaId: TEST_SCHEMA_ID,
    progress: (l) => lines.push(l),
    lines,
    ...extra,
  };
}

describe('frame', () => {
  it('writes magic byte 0 and a big-endian schema id before the body', () => {
    expect(frame(258, Buffer.from([9]))).toEqual(Buffer.from([0, 0, 0, 1, 2, 9]));
  });
});

describe('simulate', () => {
  it('produces every record in batches, with identical bytes and key for duplicates, and writes the ground truth', async () => {
    const { producer, batches, sent } = fakeProducer();
    const path = join(mkdtempSync(join(tmpdir(), 'txmon-sim-')), 'ground-truth.jsonl');
    const d = deps(producer);
    const summary = await simulate({ ...options({ count: 5_000 }), ratePerSecond: 0, groundTruthPath: path }, d);

    expect(sent).toHaveLength(summary.records);
    expect(batches.every((b) => b.acks === -1 && b.topicMessages?.[0]?.topic === 't.transactions')).toBe(true);
    expect(Math.max(...batches.map((b) => b.topicMessages?.[0]?.messages.length ?? 0))).toBeLessThanOrEqual(BATCH_SIZE);

    const file = readFileSync(path, 'utf8').trimEnd().split('\n');
    expect(file).toHaveLength(summary.records + 1);
    expect(JSON.parse(file.at(-1) as string)).toEqual({ summary });
    const lines = file.slice(0, -1).map((l) => JSON.parse(l) as GroundTruthLine);

    let duplicates = 0;
    for (const line of lines) {
      const record = sent[line.seq] as Sent;
      switch (line.kind) {
        case 'valid': {
          const tx = decode(record.value);
          expect(tx.transaction_id).toBe(line.transaction_id);
          expect(record.key?.toString('utf8')).toBe(tx.account_id);
          break;
        }
        case 'duplicate': {
          const original = sent[line.duplicate_of as number] as Sent;
          expect(record.value.equals(original.value)).toBe(true);
          expect(record.key?.equals(original.key as Buffer)).toBe(true);
          duplicates++;
          break;
        }
        case 'invalid':
          expect(decode(record.value).transaction_id).toBe(line.transaction_id);
          break;
        case 'bad-bytes':
          expect(() => decode(record.value)).toThrow();
          break;
        case 'unknown-schema': {
          expect(record.value[0]).toBe(0);
          expect(record.value.readInt32BE(1)).toBe(UNKNOWN_SCHEMA_ID);
          const tx = transactionType.fromBuffer(record.value.subarray(5)) as Transaction;
          expect(tx.transaction_id).toBe(line.transaction_id);
          break;
        }
      }
    }
    expect(duplicates).toBe(summary.duplicates);
    expect(duplicates).toBeGreaterThan(0);
    expect(d.lines.at(-1)).toMatch(/^simulate: 5,000\/5,000 \(100%\) [\d,]+ msg\/s$/);
  });

  it('sends the same bytes on a second run with the same seed', async () => {
    const a = fakeProducer();
    const b = fakeProducer();
    await simulate({ ...options({ count: 1_000 }), ratePerSecond: 0 }, deps(a.producer));
    await simulate({ ...options({ count: 1_000 }), ratePerSecond: 0 }, deps(b.producer));
    expect(Buffer.concat(b.sent.map((m) => m.value)).equals(Buffer.concat(a.sent.map((m) => m.value)))).toBe(true);
  });

  it('holds the rate with small batches and reports progress', async () => {
    const { producer, batches, sent } = fakeProducer();
    let clock = 0;
    const sleeps: number[] = [];
    const d = deps(producer, {
      now: () => clock,
      sleep: (ms) => {
        sleeps.push(ms);
        clock += ms;
        return Promise.resolve();
      },
    });
    const summary = await simulate({ ...options({ count: 2_000 }), ratePerSecond: 500 }, d);
    expect(sent).toHaveLength(summary.records);
    expect(Math.max(...batches.map((b) => b.topicMessages?.[0]?.messages.length ?? 0))).toBe(50);
    // All records at 500/s take records/500 seconds of (fake) time.
    expect(clock).toBeCloseTo((summary.records / 500) * 1000, -1);
    expect(d.lines.length).toBeGreaterThanOrEqual(10);
    expect(d.lines.some((l) => /^simulate: [\d,]+\/2,000 \(\d+%\) 500 msg\/s$/.test(l))).toBe(true);
  });

  it('pre-generated, sends the same records in the same batches, and paces from the first send, not from the start', async () => {
    const plain = fakeProducer();
    await simulate(
      { ...options({ count: 2_000 }), ratePerSecond: 500 },
      deps(plain.producer, { sleep: () => Promise.resolve() }),
    );
    const pre = fakeProducer();
    let clock = 0;
    const sleeps: number[] = [];
    const events: string[] = [];
    const d = deps(pre.producer, {
      now: () => clock,
      sleep: (ms) => {
        sleeps.push(ms);
        clock += ms;
        return Promise.resolve();
      },
    });
    // The generation takes a minute of this clock (said when it ends, before the first send).
    const progress = d.progress;
    d.progress = (line) => {
      if (/generated and encoded/.test(line)) clock += 60_000;
      progress(line);
    };
    const summary = await simulate(
      {
        ...options({ count: 2_000 }),
        ratePerSecond: 500,
        pregenerate: true,
        onSendStart: () => events.push(`send-start@${clock}`),
      },
      d,
    );
    expect(events).toEqual(['send-start@60000']);
    expect(Buffer.concat(pre.sent.map((m) => m.value)).equals(Buffer.concat(plain.sent.map((m) => m.value)))).toBe(true);
    expect(pre.batches.map((b) => b.topicMessages?.[0]?.messages.length)).toEqual(
      plain.batches.map((b) => b.topicMessages?.[0]?.messages.length),
    );
    // Paced from the first send: the records still take records/500 s after it (counted from the
    // start, the minute of generation would have let them all go at once, with no wait).
    const waited = sleeps.reduce((a, b) => a + b, 0);
    expect(waited).toBeGreaterThan((summary.records / 500) * 1000 - 200);
    expect(waited).toBeLessThanOrEqual((summary.records / 500) * 1000);
  });

  it('refuses an encoder that does not frame with the valid schema id', async () => {
    const { producer } = fakeProducer();
    const bad = simulate({ ...options({ count: 10 }), ratePerSecond: 0 }, deps(producer, { validSchemaId: TEST_SCHEMA_ID + 1 }));
    await expect(bad).rejects.toThrow(TxmonError);
  });

  it('fails without writing a partial summary when the producer fails', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'txmon-sim-')), 'ground-truth.jsonl');
    const producer = { sendBatch: () => Promise.reject(new Error('broker down')) } as unknown as Producer;
    await expect(
      simulate({ ...options({ count: 3_000 }), ratePerSecond: 0, groundTruthPath: path }, deps(producer)),
    ).rejects.toThrow('broker down');
    expect(readFileSync(path, 'utf8')).not.toContain('summary');
  });
});
