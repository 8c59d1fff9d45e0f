/**
 * `txmon settlements import`: a bank's settlement CSV to the settlements topic (registry-framed Avro,
 * key = transaction_reference), its bad lines to the settlements dead-letter topic with their line numbers.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import type avro from 'avsc';
import { CompressionTypes, type Message, type Producer } from 'kafkajs';
import type { TxmonConfig } from '../config/config.ts';
import { containsPan } from '../domain/pan.ts';
import type { Settlement } from '../domain/settlement.ts';
import { DependencyError, InputError, TxmonError, errorMessage } from '../platform/errors.ts';
import { createKafka } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import { createRegistry, frame, registerSchema } from '../platform/schema-registry.ts';
import {
  IMPORT_PROCESSOR,
  fileBatchId,
  readSettlementCsv,
  type BadLineClass,
  type SettlementCsvItem,
} from '../reconciliation/settlement-csv.ts';
import { avroType, schemaText } from '../schemas/index.ts';
import { deadLetterMessages, type DeadLetter } from '../sinks/dead-letter.sink.ts';
import { topicName, valueSubject } from '../topics/topics.ts';

export interface SettlementsImportOptions {
  dryRun?: boolean;
  json?: boolean;
  batchId?: string;
}

export interface BadLineReport {
  line: number;
  errorClass: BadLineClass;
  message: string;
}

/** What an import did; printed at the end (`--json`: as is). */
export interface ImportSummary {
  file: string;
  sha256: string;
  /** batch_id of the lines that give none. */
  batchId: string;
  dryRun: boolean;
  /** Lines after the header, blank lines not counted: valid + repeats + bad. */
  lines: number;
  /** Lines that passed validation (published, unless --dry-run). */
  valid: number;
  published: number;
  /** Lines repeating an earlier line's settlement_id with identical content: skipped. */
  repeats: number;
  bad: number;
  badByClass: Partial<Record<BadLineClass, number>>;
  /** The first bad lines (all of them are on the dead-letter topic). */
  firstBadLines: BadLineReport[];
  deadLettered: number;
  ignoredColumns: string[];
  topic: string | null;
  deadLetterTopic: string | null;
  exitCode: 0 | 2;
}

/** Messages per produce request, and the bytes at which a request goes out earlier (dead letters of long lines). */
const CHUNK = 1_000;
const CHUNK_BYTES = 512 * 1024;
const PROGRESS_EVERY = 50_000;
const SHOWN_BAD_LINES = 20;
const ID = /^[\x21-\x7e]{1,64}$/;

const fmt = (n: number): string => n.toLocaleString('en-US');
/** `1 line`, `2 valid lines`. */
const lines = (n: number, adjective = ''): string => `${fmt(n)} ${adjective}${n === 1 ? 'line' : 'lines'}`;

/** Runs the command: progress and bad lines on stderr, the summary on stdout; returns the exit code. */
export async function settlementsImportCommand(
  cfg: TxmonConfig,
  logger: Logger,
  file: string,
  o: SettlementsImportOptions,
  say: (line: string) => void,
): Promise<number> {
  const summary = await importSettlements(cfg, logger, file, o, say);
  process.stdout.write(o.json ? `${JSON.stringify(summary)}\n` : formatImportSummary(summary));
  return summary.exitCode;
}

/** Validates every line of the file and, unless dryRun, publishes the good ones and dead-letters the bad ones. */
export async function importSettlements(
  cfg: TxmonConfig,
  logger: Logger,
  file: string,
  o: SettlementsImportOptions,
  say: (line: string) => void,
): Promise<ImportSummary> {
  if (o.batchId !== undefined && (!ID.test(o.batchId) || containsPan(o.batchId)))
    throw new InputError('--batch-id must be 1-64 printable ASCII characters without spaces (and no card number)');
  const importTime = Date.now();
  const sha256 = await sha256File(file);
  const ns = cfg.topicNamespace;
  const s: ImportSummary = {
    file,
    sha256,
    batchId: o.batchId ?? fileBatchId(sha256),
    dryRun: Boolean(o.dryRun),
    lines: 0,
    valid: 0,
    published: 0,
    repeats: 0,
    bad: 0,
    badByClass: {},
    firstBadLines: [],
    deadLettered: 0,
    ignoredColumns: [],
    topic: o.dryRun ? null : topicName(ns, 'settlements'),
    deadLetterTopic: o.dryRun ? null : topicName(ns, 'settlementsDlq'),
    exitCode: 0,
  };
  const items = readSettlementCsv(createReadStream(file), {
    defaultBatchId: s.batchId,
    importTime,
    maxFutureSkewMs: cfg.ingest.maxFutureSkewMs,
  });
  let out: ImportOutput | null = null;
  let lastLine = 0;
  try {
    for await (const item of items) {
      if (item.kind === 'header') {
        s.ignoredColumns = item.ignored;
        if (item.ignored.length > 0) say(`settlements import: ignoring column(s) ${item.ignored.join(', ')}`);
        // Only once the header is known to be complete: a file missing a column publishes nothing.
        if (!o.dryRun) out = await ImportOutput.open(cfg, logger, importTime, `file:${basename(file)}`);
        continue;
      }
      lastLine = item.line;
      s.lines++;
      await tally(s, item, out, say);
      if (s.lines % PROGRESS_EVERY === 0)
        say(
          `settlements import: ${fmt(s.lines)} lines read, ${fmt(out?.published ?? s.valid)} ${o.dryRun ? 'valid' : 'published'}, ${fmt(s.bad)} bad`,
        );
    }
    await out?.flush();
  } catch (err) {
    if (err instanceof InputError) throw new InputError(`${file}: ${err.message}`, err.cause);
    if (out && out.published + out.deadLettered > 0)
      say(
        `settlements import: stopped near line ${lastLine} after publishing ${lines(out.published)} and ${fmt(out.deadLettered)} dead letters; importing the file again is harmless (the same settlement ids)`,
      );
    throw err;
  } finally {
    await out?.close();
  }
  s.published = out?.published ?? 0;
  s.deadLettered = out?.deadLettered ?? 0;
  if (s.bad > SHOWN_BAD_LINES) say(`  ... and ${fmt(s.bad - SHOWN_BAD_LINES)} more bad lines`);
  s.exitCode = s.bad > 0 ? 2 : 0;
  return s;
}

/** Counts one line, reports it if bad, and hands it to the output. */
async function tally(
  s: ImportSummary,
  item: SettlementCsvItem,
  out: ImportOutput | null,
  say: (line: string) => void,
): Promise<void> {
  switch (item.kind) {
    case 'settlement':
      s.valid++;
      await out?.settlement(item.line, item.settlement);
      return;
    case 'repeat':
      s.repeats++;
      return;
    case 'bad':
      s.bad++;
      s.badByClass[item.errorClass] = (s.badByClass[item.errorClass] ?? 0) + 1;
      // The message never quotes a card number; the raw line (which might) is never printed.
      if (s.firstBadLines.length < SHOWN_BAD_LINES) {
        s.firstBadLines.push({ line: item.line, errorClass: item.errorClass, message: item.message });
        say(`  line ${item.line}: ${item.errorClass}: ${item.message}`);
      }
      await out?.deadLetter(item);
      return;
    case 'header':
      return;
  }
}

/** The human summary. */
export function formatImportSummary(s: ImportSummary): string {
  const classes = Object.entries(s.badByClass)
    .map(([c, n]) => `${c} ${fmt(n)}`)
    .join(', ');
  const w = Math.max(...[s.lines, s.valid, s.repeats, s.bad].map((n) => fmt(n).length));
  const row = (label: string, n: number, note: string) => `  ${label.padEnd(16)} ${fmt(n).padStart(w)}  ${note}\n`;
  let text = `settlements import: ${s.file} (sha256 ${s.sha256.slice(0, 12)}..., default batch_id ${s.batchId})${s.dryRun ? ', dry run' : ''}\n`;
  text += row('lines read', s.lines, '');
  text += s.dryRun
    ? row('valid', s.valid, 'not published (--dry-run)')
    : row('published', s.published, `to ${s.topic}, key transaction_reference`);
  text += row('skipped repeats', s.repeats, 'same settlement_id and content as an earlier line');
  text += row(
    'bad',
    s.bad,
    s.bad === 0
      ? ''
      : `${classes}; ${s.dryRun ? 'not dead-lettered (--dry-run)' : `to ${s.deadLetterTopic} with their line numbers`}`,
  );
  if (s.bad > 0)
    text += s.dryRun
      ? `  ${lines(s.bad, 'bad ')} (exit code 2); without --dry-run, ${lines(s.valid, 'valid ')} would be published and the bad ones dead-lettered\n`
      : `  ${lines(s.published, 'good ')} published, ${lines(s.bad, 'bad ')} not (exit code 2): fix the bad lines and import them again; re-sending a line already published is harmless\n`;
  return text.replace(/ +\n/g, '\n');
}

/** The file's SHA-256 (hex), read once before the import: it names the default batch. */
async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${errorMessage(err)}`, err);
  }
  return hash.digest('hex');
}

/** The import's producer (idempotent, acks all) and what it has sent, in chunks. */
class ImportOutput {
  published = 0;
  deadLettered = 0;
  private settlements: Message[] = [];
  private letters: DeadLetter[] = [];
  private bytes = 0;

  private constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly dlqTopic: string,
    private readonly settlementType: avro.Type,
    private readonly settlementSchemaId: number,
    private readonly deadLetterType: avro.Type,
    private readonly deadLetterSchemaId: number,
    private readonly importTime: number,
    private readonly source: string,
  ) {}

  /** Registers both schemas (idempotent) and connects the producer. */
  static async open(cfg: TxmonConfig, logger: Logger, importTime: number, source: string): Promise<ImportOutput> {
    const ns = cfg.topicNamespace;
    const registry = createRegistry(cfg);
    const register = async (key: 'settlements' | 'settlementsDlq', schema: 'settlement' | 'dead-letter') => {
      const subject = valueSubject(ns, key);
      try {
        return await registerSchema(registry, cfg.registryUrl, subject, schemaText(schema));
      } catch (err) {
        if (err instanceof TxmonError) throw err;
        throw new DependencyError('schema-registry', `registering ${subject} failed: ${errorMessage(err)}`, err);
      }
    };
    const settlementId = await register('settlements', 'settlement');
    const dlqId = await register('settlementsDlq', 'dead-letter');
    const producer = createKafka(cfg, logger, '-settlements-import').producer({ idempotent: true, maxInFlightRequests: 1 });
    await kafkaCall('connecting the producer', () => producer.connect());
    return new ImportOutput(
      producer,
      topicName(ns, 'settlements'),
      topicName(ns, 'settlementsDlq'),
      avroType('settlement'),
      settlementId,
      avroType('dead-letter'),
      dlqId,
      importTime,
      source,
    );
  }

  async settlement(line: number, s: Settlement): Promise<void> {
    const value = frame(this.settlementSchemaId, this.settlementType.toBuffer(s));
    this.bytes += value.length;
    this.settlements.push({
      key: s.transaction_reference,
      value,
      // The time the lines were validated against: the reconcile processor validates with it too.
      timestamp: String(this.importTime),
      headers: { 'txmon-source': `${this.source}/-1/${line}` },
    });
    if (this.settlements.length >= CHUNK || this.bytes >= CHUNK_BYTES) await this.flush();
  }

  async deadLetter(item: Extract<SettlementCsvItem, { kind: 'bad' }>): Promise<void> {
    this.letters.push({
      position: { topic: this.source, partition: -1, offset: String(item.line) },
      timestamp: this.importTime,
      key: null,
      value: Buffer.from(item.raw, 'utf8'),
      redacted: item.redacted,
      errorClass: item.errorClass,
      errorMessage: item.message,
    });
    this.bytes += item.raw.length;
    if (this.letters.length >= CHUNK || this.bytes >= CHUNK_BYTES) await this.flush();
  }

  /** Sends what is buffered; resolves once the broker has it (acks all). */
  async flush(): Promise<void> {
    this.bytes = 0;
    if (this.settlements.length > 0) {
      const messages = this.settlements;
      this.settlements = [];
      await kafkaCall(`publishing to ${this.topic}`, () =>
        this.producer.sendBatch({
          topicMessages: [{ topic: this.topic, messages }],
          acks: -1,
          compression: CompressionTypes.GZIP,
        }),
      );
      this.published += messages.length;
    }
    if (this.letters.length > 0) {
      const letters = this.letters;
      this.letters = [];
      const messages = deadLetterMessages(letters, this.deadLetterType, this.deadLetterSchemaId, IMPORT_PROCESSOR);
      await kafkaCall(`publishing to ${this.dlqTopic}`, () =>
        this.producer.sendBatch({
          topicMessages: [{ topic: this.dlqTopic, messages }],
          acks: -1,
          compression: CompressionTypes.GZIP,
        }),
      );
      this.deadLettered += letters.length;
    }
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}

/** A broker call whose failure (after kafkajs's own retries) becomes one clear DependencyError. */
async function kafkaCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof TxmonError) throw err;
    throw new DependencyError('kafka', `${what} failed: ${errorMessage(err)}`, err);
  }
}
