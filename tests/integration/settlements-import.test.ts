// `txmon settlements import` as a real process against the real broker and registry: the good lines
// on the settlements topic, the bad ones on its dead-letter topic with their line numbers and no card
// number; --dry-run and a file missing a column publish nothing; importing again sends the same ids.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containsPan } from '../../domain/pan.ts';
import type { Settlement } from '../../domain/settlement.ts';
import { createKafka } from '../../platform/kafka.ts';
import { schemaIdOf } from '../../platform/schema-registry.ts';
import { readTopic } from '../../platform/topic-reader.ts';
import { avroType } from '../../schemas/index.ts';
import { topicName } from '../../topics/topics.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';

const REPO = new URL('../../', import.meta.url).pathname;
const PAN = '4111111111111111';
const dir = mkdtempSync(join(tmpdir(), 'txmon-settlements-'));

let ns: TestNamespace;
beforeAll(async () => {
  ns = await createNamespace();
});
afterAll(async () => {
  await ns?.cleanup();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/txmon.js settlements import ...` in the test's namespace. */
function txmonImport(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/txmon.js', 'settlements', 'import', ...args],
      { cwd: REPO, env: { ...process.env, ...ns.env, TXMON_LOG_LEVEL: 'warn', TXMON_LOG_PRETTY: 'false' } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

interface DeadLetterRecord {
  source_topic: string;
  source_partition: number;
  source_offset: number;
  source_timestamp: number;
  original_key: Buffer | null;
  original_value: Buffer | null;
  original_redacted: boolean;
  error_class: string;
  error_message: string;
  processor: string;
}

async function read(key: 'settlements' | 'settlementsDlq'): Promise<KafkaMessage[]> {
  return readTopic(createKafka(ns.cfg, testLogger), topicName(ns.cfg.topicNamespace, key), { idleMs: 500 });
}

const settlementType = avroType('settlement');
const deadLetterType = avroType('dead-letter');
const decodeSettlement = (m: KafkaMessage): Settlement =>
  settlementType.fromBuffer((m.value as Buffer).subarray(5)) as Settlement;
const decodeDeadLetter = (m: KafkaMessage): DeadLetterRecord =>
  deadLetterType.fromBuffer((m.value as Buffer).subarray(5)) as DeadLetterRecord;

// CRLF, as bank files usually come; line numbers in the comments.
const LINES = [
  'Settlement_ID,Transaction_Reference,Amount,Currency,Settlement_Date,Fee,Event_Time,Memo', // 1
  's-1,tx-1,12.34,USD,2026-01-15,0.10,2026-01-15T10:30:00Z,ok', // 2
  's-2,tx-2,1500,JPY,2026-01-15,,,ok', // 3
  's-3,tx-3,1.234,KWD,2026-01-15,,,"quoted, with a comma"', // 4
  's-4,tx-4,-5.00,USD,2026-01-16,,,refund', // 5
  's-1,tx-1,12.34,USD,2026-01-15,0.10,2026-01-15T10:30:00Z,the same line again', // 6: repeat, skipped
  's-5,tx-5,12.345,USD,2026-01-15,,,too many decimals', // 7
  `s-6,${PAN},1.00,USD,2026-01-15,,,card number`, // 8
  's-7,tx-7,abc,USD,2026-01-15,,,', // 9
  's-1,tx-1,99.99,USD,2026-01-15,,,conflict', // 10
];
const TEXT = `${LINES.join('\r\n')}\r\n`;
const BATCH = `file-${createHash('sha256').update(TEXT).digest('hex').slice(0, 12)}`;

describe('settlements import', () => {
  const file = join(dir, 'bank-2026-01-15.csv');
  writeFileSync(file, TEXT);

  it('publishes nothing with --dry-run or when a column is missing', async () => {
    const dry = await txmonImport([file, '--dry-run', '--json']);
    expect(dry.code).toBe(2);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, lines: 9, valid: 4, published: 0, repeats: 1, bad: 4 });
    expect(dry.stderr).toContain('line 7: VALIDATION_FAILED');

    const noCurrency = join(dir, 'no-currency.csv');
    writeFileSync(noCurrency, 'settlement_id,transaction_reference,amount,settlement_date\ns-1,tx-1,1.00,2026-01-15\n');
    const missing = await txmonImport([noCurrency]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/BAD_INPUT: .*no-currency\.csv: header \(line 1\): missing column currency/);

    expect(await read('settlements')).toEqual([]);
    expect(await read('settlementsDlq')).toEqual([]);
  });

  it('publishes the good lines and dead-letters the bad ones with their line numbers, no PAN anywhere', async () => {
    const run = await txmonImport([file, '--json']);
    expect(run.code).toBe(2);
    const summary = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({
      batchId: BATCH,
      lines: 9,
      published: 4,
      repeats: 1,
      bad: 4,
      deadLettered: 4,
      badByClass: { VALIDATION_FAILED: 2, PAN_DETECTED: 1, PARSE_FAILED: 1 },
      ignoredColumns: ['memo'],
      topic: topicName(ns.cfg.topicNamespace, 'settlements'),
      deadLetterTopic: topicName(ns.cfg.topicNamespace, 'settlementsDlq'),
      exitCode: 2,
    });
    expect(run.stderr).toMatch(/line 10: VALIDATION_FAILED: settlement_id "s-1" is already on line 2 with different content/);
    expect(`${run.stdout}${run.stderr}`).not.toContain(PAN);

    const published = await read('settlements');
    const schemaIds = new Set(published.map((m) => schemaIdOf(m.value)));
    expect(schemaIds.size).toBe(1);
    const byId = new Map(
      published.map((m) => [decodeSettlement(m).settlement_id, { key: m.key?.toString(), s: decodeSettlement(m) }]),
    );
    expect([...byId.keys()].sort()).toEqual(['s-1', 's-2', 's-3', 's-4']);
    expect(byId.get('s-1')).toEqual({
      key: 'tx-1',
      s: {
        settlement_id: 's-1',
        transaction_reference: 'tx-1',
        amount_minor: 1234,
        currency: 'USD',
        settlement_date: Date.parse('2026-01-15') / 86_400_000,
        batch_id: BATCH,
        fee_minor: 10,
        event_time: Date.parse('2026-01-15T10:30:00Z'),
      },
    });
    expect(byId.get('s-2')).toMatchObject({ key: 'tx-2', s: { amount_minor: 1500, currency: 'JPY', fee_minor: 0 } });
    expect(byId.get('s-3')).toMatchObject({ key: 'tx-3', s: { amount_minor: 1234, currency: 'KWD' } });
    expect(byId.get('s-4')).toMatchObject({
      key: 'tx-4',
      s: { amount_minor: -500, event_time: Date.parse('2026-01-16T00:00:00Z') },
    });

    const letters = (await read('settlementsDlq')).map((m) => ({ key: m.key, d: decodeDeadLetter(m) }));
    letters.sort((a, b) => a.d.source_offset - b.d.source_offset);
    expect(letters.map(({ key, d }) => [key, d.source_topic, d.source_partition, d.source_offset, d.error_class])).toEqual([
      [null, `file:${basename(file)}`, -1, 7, 'VALIDATION_FAILED'],
      [null, `file:${basename(file)}`, -1, 8, 'PAN_DETECTED'],
      [null, `file:${basename(file)}`, -1, 9, 'PARSE_FAILED'],
      [null, `file:${basename(file)}`, -1, 10, 'VALIDATION_FAILED'],
    ]);
    for (const { d } of letters) {
      expect(d.processor).toBe('settlements-import');
      const text = d.original_value?.toString('utf8') ?? '';
      expect(d.original_redacted).toBe(d.source_offset === 8);
      // The line's own text, the card number's digits replaced by '#'.
      expect(text).toBe(d.original_redacted ? LINES[7]?.replace(PAN, '#'.repeat(16)) : LINES[d.source_offset - 1]);
      for (const field of [text, d.error_message]) {
        expect(containsPan(field)).toBe(false);
        expect(field).not.toContain(PAN);
      }
    }
    expect(letters[0]?.d.error_message).toBe('amount "12.345" has 3 decimal places, USD has 2');
  });

  it('sends the same settlement ids again on a re-import (harmless: the reconcile processor keeps each id once)', async () => {
    const first = (await read('settlements')).map(decodeSettlement);
    const run = await txmonImport([file, '--json']);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toMatchObject({ batchId: BATCH, published: 4, deadLettered: 4 });
    const all = (await read('settlements')).map(decodeSettlement);
    expect(all).toHaveLength(8);
    const sorted = (l: Settlement[]) => l.map((s) => JSON.stringify(s)).sort();
    // Each line arrives twice, byte for byte the same settlement (same batch id: the file did not change).
    expect(sorted(all)).toEqual(sorted([...first, ...first]));
    expect(await read('settlementsDlq')).toHaveLength(8);
  });

  it('exits 0 when every line is published', async () => {
    const good = join(dir, 'good.csv');
    writeFileSync(
      good,
      'settlement_id,transaction_reference,amount_minor,currency,settlement_date,batch_id\ns-8,tx-8,100,EUR,2026-01-15,B1\n',
    );
    const run = await txmonImport([good]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/published\s+1 {2}to /);
    const s8 = (await read('settlements')).map(decodeSettlement).filter((s) => s.settlement_id === 's-8');
    expect(s8).toEqual([expect.objectContaining({ batch_id: 'B1', amount_minor: 100, currency: 'EUR' })]);
  });
});
