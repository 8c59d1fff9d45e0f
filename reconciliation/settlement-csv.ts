/**
 * Settlement files as banks send them (pure: text in, records out; no I/O, no clock). Turns CSV
 * text into Settlement records, identical repeats and bad lines, each with its line number.
 *
 * The CSV reader is our own rather than csv-parse: csv-parse reports the line a record ends on,
 * counts a CRLF inside a quoted field as two lines, and its raw text carries the blank lines before
 * a record; a dead letter needs the line a record starts on and that line's exact text.
 */
import { createHash } from 'node:crypto';
import { minorUnits } from '../domain/currencies.ts';
import { containsPan, redactPanText } from '../domain/pan.ts';
import { parseIsoDate, validateSettlement, type Settlement } from '../domain/settlement.ts';
import { InputError } from '../platform/errors.ts';

/** The `processor` of the import's dead letters. */
export const IMPORT_PROCESSOR = 'settlements-import';

export type BadLineClass = 'PARSE_FAILED' | 'VALIDATION_FAILED' | 'PAN_DETECTED';

export type SettlementCsvItem =
  /** The header, always first: the delimiter found and the columns ignored. */
  | { kind: 'header'; line: number; delimiter: string; ignored: string[] }
  | { kind: 'settlement'; line: number; settlement: Settlement }
  /** The same settlement_id with identical content as an earlier line: skipped. */
  | { kind: 'repeat'; line: number; firstLine: number }
  /** `raw` is the line's text (all its lines, for a quoted field that spans several); card numbers are `#`. */
  | { kind: 'bad'; line: number; errorClass: BadLineClass; message: string; raw: string; redacted: boolean };

export interface SettlementCsvOptions {
  /** batch_id of lines that give none (see fileBatchId). */
  defaultBatchId: string;
  /** The import's clock (epoch ms): lines are validated as records with this timestamp. */
  importTime: number;
  maxFutureSkewMs: number;
}

/** The batch id of a file without a batch_id column: the same file always gets the same id. */
export function fileBatchId(sha256Hex: string): string {
  return `file-${sha256Hex.slice(0, 12)}`;
}

/** A quoted field may span at most this many lines / characters: an unclosed quote costs one bad line, not the file. */
const MAX_RECORD_LINES = 100;
const MAX_RECORD_CHARS = 64 * 1024;
/** Longer lines are cut here (and are bad lines): memory and dead letters stay bounded whatever the file holds. */
const MAX_LINE_CHARS = 64 * 1024;
const MAX_QUOTED = 24;
const DAY_MS = 86_400_000;

const COLUMNS = [
  'settlement_id',
  'transaction_reference',
  'amount_minor',
  'amount',
  'currency',
  'settlement_date',
  'batch_id',
  'fee_minor',
  'fee',
  'event_time',
] as const;
type Column = (typeof COLUMNS)[number];

interface Layout {
  delimiter: string;
  width: number;
  names: string[];
  at: Partial<Record<Column, number>>;
}

/** Replaces the digits of every card number (as containsPan defines one) in the text with `#`. */
export function redactPans(text: string): string {
  const out = redactPanText(text, '#');
  // containsPan is the definition; should it still find one, no digit of the text survives.
  return containsPan(out) ? out.replace(/\d/g, '#') : out;
}

type Minor = { ok: true; minor: bigint } | { ok: false; syntax: true } | { ok: false; syntax: false; places: number };

/** An integer of minor units from a decimal in major units (`-12.34`), exactly (no floating point), or why not. */
export function decimalToMinor(text: string, exponent: number): Minor {
  const m = /^([+-]?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) return { ok: false, syntax: true };
  const [, sign = '', whole = ''] = m;
  let frac = m[3] ?? '';
  // Zeros past the currency's places change nothing (files often write every amount with two decimals).
  if (frac.length > exponent && /^0*$/.test(frac.slice(exponent))) frac = frac.slice(0, exponent);
  if (frac.length > exponent) return { ok: false, syntax: false, places: frac.replace(/0+$/, '').length };
  const minor = BigInt(whole + frac.padEnd(exponent, '0'));
  return { ok: true, minor: sign === '-' ? -minor : minor };
}

/** An integer of minor units as written (`-1234`), or why not. */
export function integerToMinor(text: string): Minor {
  return /^[+-]?\d+$/.test(text) ? { ok: true, minor: BigInt(text) } : { ok: false, syntax: true };
}

const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)$/i;

/** Epoch ms of an ISO 8601 date-time with a zone (`2026-01-15T10:30:00Z`, `...+01:00`); null otherwise. Sub-ms digits are dropped. */
export function parseIsoTimestamp(text: string): number | null {
  const m = TIMESTAMP.exec(text);
  if (!m) return null;
  const [, date = '', hh = '', mm = '', ss = '0', frac = '', , sign = '+', oh = '0', om = '0'] = m;
  const days = parseIsoDate(date);
  const [h, min, s, offH, offM] = [hh, mm, ss, oh, om].map(Number) as [number, number, number, number, number];
  if (days === null || h > 23 || min > 59 || s > 59 || offH > 23 || offM > 59) return null;
  const offset = (sign === '-' ? -1 : 1) * (offH * 60 + offM) * 60_000;
  return days * DAY_MS + ((h * 60 + min) * 60 + s) * 1000 + Number(frac.padEnd(3, '0').slice(0, 3)) - offset;
}

/** A value for a message: quoted, cut short. */
const q = (v: string): string => JSON.stringify(v.length > MAX_QUOTED ? `${v.slice(0, MAX_QUOTED)}...` : v);

/** Normalises a header name: case, surrounding blanks, and spaces or dashes inside (`Settlement ID` = `settlement_id`). */
const columnName = (name: string): string =>
  name
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');

/** Splits one record's text into fields; `open` while a quoted field is still open at the end of the text. */
function splitFields(text: string, d: string): { fields: string[] } | { open: true } | { error: string } {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let j = i;
    while (text[j] === ' ' || (text[j] === '\t' && d !== '\t')) j++;
    if (text[j] === '"') {
      let value = '';
      j++;
      for (;;) {
        const close = text.indexOf('"', j);
        if (close < 0) return { open: true };
        value += text.slice(j, close);
        j = close + 1;
        if (text[j] !== '"') break;
        value += '"';
        j++;
      }
      while (text[j] === ' ' || (text[j] === '\t' && d !== '\t')) j++;
      fields.push(value);
      if (j >= text.length) return { fields };
      if (text[j] !== d) return { error: `field ${fields.length} has text after its closing quote` };
      i = j + 1;
      continue;
    }
    const next = text.indexOf(d, i);
    const value = text.slice(i, next < 0 ? text.length : next);
    if (value.includes('"')) return { error: `field ${fields.length + 1} has a quote inside an unquoted value` };
    fields.push(value);
    if (next < 0) return { fields };
    i = next + 1;
  }
}

/** The delimiter the header uses most: comma, semicolon or tab. */
function sniffDelimiter(headerLine: string): string {
  let best = ',';
  let most = 0;
  for (const d of [',', ';', '\t']) {
    const n = headerLine.split(d).length - 1;
    if (n > most) [best, most] = [d, n];
  }
  return best;
}

interface PhysicalLine {
  line: number;
  text: string;
  eol: string;
  cut: boolean;
}

interface RawRecord {
  line: number;
  raw: string;
  parsed: { fields: string[] } | { error: string };
}

/**
 * Reads a settlement CSV pushed in chunks of text. push() and end() return what the text so far
 * completes; the header comes first, and a missing column throws InputError before any line.
 */
export class SettlementCsvReader {
  private carry = '';
  private lineNo = 0;
  private started = false;
  private pending: PhysicalLine[] = [];
  private layout: Layout | null = null;
  /** Sniffed from the header's first line. */
  private delimiter: string | null = null;
  /** settlement_id → first line and a hash of its content. */
  private readonly seen = new Map<string, { line: number; hash: string }>();

  constructor(private readonly opts: SettlementCsvOptions) {}

  /** Feeds text; returns the items it completes. */
  push(text: string): SettlementCsvItem[] {
    const out: SettlementCsvItem[] = [];
    let buf = this.carry + text;
    if (!this.started && buf.length > 0) {
      this.started = true;
      if (buf.charCodeAt(0) === 0xfeff) buf = buf.slice(1);
    }
    const eol = /\r\n|\r|\n/g;
    // The carry holds no line end but perhaps a trailing CR: scan only from there, so a long line costs linear time.
    eol.lastIndex = Math.max(0, this.carry.length - 1);
    let start = 0;
    for (let m = eol.exec(buf); m; m = eol.exec(buf)) {
      // A CR at the end of the text may be the first half of a CRLF: wait for the next chunk.
      if (m[0] === '\r' && m.index === buf.length - 1) break;
      this.physical(buf.slice(start, m.index), m[0], out);
      start = m.index + m[0].length;
    }
    this.carry = buf.slice(start);
    if (this.carry.length > MAX_LINE_CHARS + 1) this.carry = this.carry.slice(0, MAX_LINE_CHARS + 1);
    return out;
  }

  /** Ends the input; returns the items of its last lines. Throws InputError when there was no header. */
  end(): SettlementCsvItem[] {
    const out: SettlementCsvItem[] = [];
    if (this.carry.endsWith('\r')) this.physical(this.carry.slice(0, -1), '\r', out);
    else if (this.carry.length > 0) this.physical(this.carry, '', out);
    this.carry = '';
    while (this.pending.length > 0) this.unclosed(out);
    if (!this.layout) throw new InputError('the file has no header row (it is empty)');
    return out;
  }

  private physical(text: string, eol: string, out: SettlementCsvItem[]): void {
    this.lineNo++;
    const cut = text.length > MAX_LINE_CHARS;
    this.line({ line: this.lineNo, text: cut ? text.slice(0, MAX_LINE_CHARS) : text, eol, cut }, out);
  }

  /** Adds a physical line to the record being assembled, and emits the record once it is complete. */
  private line(l: PhysicalLine, out: SettlementCsvItem[]): void {
    if (this.pending.length === 0 && l.text.trim() === '') return;
    this.pending.push(l);
    const first = this.pending[0] as PhysicalLine;
    const raw = this.pending.map((p, i) => (i === this.pending.length - 1 ? p.text : p.text + p.eol)).join('');
    if (this.pending.some((p) => p.cut)) {
      this.pending = [];
      this.record({ line: first.line, raw, parsed: { error: `the line is longer than ${MAX_LINE_CHARS} characters` } }, out);
      return;
    }
    this.delimiter ??= sniffDelimiter(first.text);
    const parsed = splitFields(raw, this.delimiter);
    if ('open' in parsed) {
      if (this.pending.length < MAX_RECORD_LINES && raw.length < MAX_RECORD_CHARS) return;
      this.unclosed(out);
      return;
    }
    // A quote left open on one line and closed by a quote of a later line: only the first line is bad.
    if ('error' in parsed && this.pending.length > 1) {
      this.unclosed(out);
      return;
    }
    this.pending = [];
    this.record({ line: first.line, raw, parsed }, out);
  }

  /** The first pending line opened a quote that never closes: that line is bad, the lines after it are read afresh. */
  private unclosed(out: SettlementCsvItem[]): void {
    const [first, ...rest] = this.pending;
    this.pending = [];
    if (!first) return;
    this.record({ line: first.line, raw: first.text, parsed: { error: 'a quoted field is never closed' } }, out);
    for (const l of rest) this.line(l, out);
  }

  private record(r: RawRecord, out: SettlementCsvItem[]): void {
    if (!this.layout) {
      if ('error' in r.parsed) throw new InputError(`the header row (line ${r.line}) is not valid CSV: ${r.parsed.error}`);
      this.layout = headerLayout(r.parsed.fields, this.delimiter ?? ',', r.line);
      const known = new Set(Object.values(this.layout.at));
      const ignored = this.layout.names.filter((n, i) => n !== '' && !known.has(i)).map(redactPans);
      out.push({ kind: 'header', line: r.line, delimiter: this.layout.delimiter, ignored });
      return;
    }
    // Excel pads files with rows of bare delimiters: blank, not bad.
    if ('fields' in r.parsed && r.parsed.fields.every((f) => f.trim() === '')) return;
    out.push(this.item(r, this.layout));
  }

  private item(r: RawRecord, layout: Layout): SettlementCsvItem {
    const bad = (errorClass: BadLineClass, message: string, redacted = false): SettlementCsvItem => ({
      kind: 'bad',
      line: r.line,
      errorClass,
      // The line has no card number, but a value rewritten (004111... as amount 4111...) or cut short could look like one.
      message: redactPans(message),
      raw: redacted ? redactPans(r.raw) : r.raw,
      redacted,
    });
    const fields = 'fields' in r.parsed ? r.parsed.fields : [];
    if (containsPan(r.raw) || fields.some((f) => containsPan(f))) {
      const where = fields.flatMap((f, i) => (containsPan(f) ? [redactPans(layout.names[i] || `field ${i + 1}`)] : []));
      return bad(
        'PAN_DETECTED',
        `the line carries a card number (PAN)${where.length > 0 ? ` in ${where.join(', ')}` : ''} (redacted in the dead letter)`,
        true,
      );
    }
    if ('error' in r.parsed) return bad('PARSE_FAILED', r.parsed.error);
    const extra = fields.slice(layout.width);
    if (fields.length < layout.width || extra.some((f) => f.trim() !== ''))
      return bad('PARSE_FAILED', `the line has ${fields.length} fields, the header has ${layout.width}`);

    const parsed = toSettlement(fields, layout, this.opts);
    if (!parsed.ok) return bad(parsed.errorClass, parsed.problems.join('; '));
    const s = parsed.settlement;
    const v = validateSettlement(s, { recordTimestamp: this.opts.importTime, maxFutureSkewMs: this.opts.maxFutureSkewMs });
    const problems = [...parsed.problems, ...(v.ok ? [] : v.problems)];
    if (!v.ok && v.code === 'PAN_DETECTED') return bad('PAN_DETECTED', problems.join('; '), true);
    if (problems.length > 0) return bad('VALIDATION_FAILED', problems.join('; '));

    const hash = contentHash(s);
    const first = this.seen.get(s.settlement_id);
    if (first === undefined) {
      this.seen.set(s.settlement_id, { line: r.line, hash });
      return { kind: 'settlement', line: r.line, settlement: s };
    }
    if (first.hash === hash) return { kind: 'repeat', line: r.line, firstLine: first.line };
    return bad(
      'VALIDATION_FAILED',
      `settlement_id ${q(s.settlement_id)} is already on line ${first.line} with different content`,
    );
  }
}

/** Reads a whole settlement CSV held in memory (tests, small files). */
export function parseSettlementCsv(text: string, opts: SettlementCsvOptions): SettlementCsvItem[] {
  const reader = new SettlementCsvReader(opts);
  return [...reader.push(text), ...reader.end()];
}

/** Reads a settlement CSV from chunks of UTF-8 bytes (a file stream), one item at a time. */
export async function* readSettlementCsv(
  chunks: AsyncIterable<Buffer | string>,
  opts: SettlementCsvOptions,
): AsyncGenerator<SettlementCsvItem> {
  const reader = new SettlementCsvReader(opts);
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of chunks) {
    yield* reader.push(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
  }
  yield* reader.push(decoder.decode());
  yield* reader.end();
}

/** The header's columns, or InputError naming every required column that is missing or ambiguous. */
function headerLayout(header: string[], delimiter: string, line: number): Layout {
  const names = header.map(columnName);
  const at: Partial<Record<Column, number>> = {};
  const twice: string[] = [];
  names.forEach((n, i) => {
    if (!(COLUMNS as readonly string[]).includes(n)) return;
    if (at[n as Column] !== undefined) twice.push(n);
    at[n as Column] = i;
  });
  const problems: string[] = [];
  const missing: string[] = [];
  for (const c of ['settlement_id', 'transaction_reference', 'amount_minor', 'currency', 'settlement_date'] as const) {
    if (c === 'amount_minor' && at.amount_minor === undefined && at.amount === undefined)
      missing.push('amount_minor (or amount)');
    else if (c !== 'amount_minor' && at[c] === undefined) missing.push(c);
  }
  if (missing.length > 0) problems.push(`missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  if (twice.length > 0) problems.push(`column${twice.length > 1 ? 's' : ''} ${twice.join(', ')} given twice`);
  if (at.amount !== undefined && at.amount_minor !== undefined) problems.push('give amount_minor or amount, not both');
  if (at.fee !== undefined && at.fee_minor !== undefined) problems.push('give fee_minor or fee, not both');
  if (problems.length > 0) {
    const found = names.map((n) => redactPans(n) || '(blank)').join(', ');
    throw new InputError(`header (line ${line}): ${problems.join('; ')} (found: ${found})`);
  }
  return { delimiter, width: header.length, names, at };
}

type Parsed =
  | { ok: true; settlement: Settlement; problems: string[] }
  | { ok: false; errorClass: 'PARSE_FAILED' | 'VALIDATION_FAILED'; problems: string[] };

/**
 * One line's fields as a Settlement. Text that is not a number, date or time is PARSE_FAILED; a value
 * that parses but cannot be right (more decimals than the currency has) is a problem for validation.
 */
function toSettlement(fields: string[], layout: Layout, opts: SettlementCsvOptions): Parsed {
  const get = (c: Column): string => {
    const i = layout.at[c];
    return i === undefined ? '' : (fields[i] ?? '').trim();
  };
  const syntax: string[] = [];
  const invalid: string[] = [];
  for (const c of ['settlement_id', 'transaction_reference', 'currency', 'settlement_date'] as const)
    if (get(c) === '') syntax.push(`${c} is empty`);
  const currency = get('currency').toUpperCase();
  const exponent = minorUnits(currency);

  const money = (minorCol: 'amount_minor' | 'fee_minor', majorCol: 'amount' | 'fee', required: boolean): number => {
    const col = layout.at[minorCol] !== undefined ? minorCol : majorCol;
    const text = get(col);
    if (text === '') {
      if (required) syntax.push(`${col} is empty`);
      return 0;
    }
    // Without a known currency a decimal has no exact minor units; validation reports the currency.
    if (col === majorCol && exponent === undefined) return 0;
    const r = col === minorCol ? integerToMinor(text) : decimalToMinor(text, exponent as number);
    if (!r.ok) {
      if (r.syntax)
        syntax.push(`${col} ${q(text)} is not ${col === minorCol ? 'an integer such as 1234' : 'a decimal such as 12.34'}`);
      else invalid.push(`${col} ${q(text)} has ${r.places} decimal places, ${currency} has ${exponent}`);
      return 0;
    }
    if (r.minor > BigInt(Number.MAX_SAFE_INTEGER) || r.minor < -BigInt(Number.MAX_SAFE_INTEGER)) {
      invalid.push(`${col} ${q(text)} is out of range`);
      return 0;
    }
    return Number(r.minor);
  };
  const amount = money('amount_minor', 'amount', true);
  const fee = money('fee_minor', 'fee', false);

  const dateText = get('settlement_date');
  const date = parseIsoDate(dateText);
  if (date === null && dateText !== '') syntax.push(`settlement_date ${q(dateText)} is not a date as YYYY-MM-DD`);
  const timeText = get('event_time');
  let eventTime = (date ?? 0) * DAY_MS;
  if (timeText !== '') {
    const t = parseIsoTimestamp(timeText);
    if (t === null) syntax.push(`event_time ${q(timeText)} is not an ISO 8601 time with a zone, such as 2026-01-15T10:30:00Z`);
    else eventTime = t;
  }
  if (syntax.length > 0) return { ok: false, errorClass: 'PARSE_FAILED', problems: [...syntax, ...invalid] };
  return {
    ok: true,
    problems: invalid,
    settlement: {
      settlement_id: get('settlement_id'),
      transaction_reference: get('transaction_reference'),
      amount_minor: amount,
      currency,
      settlement_date: date as number,
      batch_id: get('batch_id') || opts.defaultBatchId,
      fee_minor: fee,
      event_time: eventTime,
    },
  };
}

/** Identity of a line's content, for telling an identical repeat from a conflicting one (a hash keeps big files small in memory). */
function contentHash(s: Settlement): string {
  const text = [
    s.transaction_reference,
    s.amount_minor,
    s.currency,
    s.settlement_date,
    s.batch_id,
    s.fee_minor,
    s.event_time,
  ].join('\u0000');
  return createHash('sha256').update(text).digest('base64').slice(0, 16);
}
