/**
 * SQL text of multi-row INSERTs, sent as the bytes mysql2 would send (its escaper, sql-escaper, in
 * the default SQL mode, with the pool's timezone 'Z'), written straight into one reused byte buffer
 * and decoded once per statement. mysql2 builds every value, every row and the whole statement as
 * strings of their own (~6 KB per transaction row, all young garbage); here a row allocates only the
 * text of its fractional numbers. Pure: no I/O.
 */

/** sql-escaper's escapes inside a quoted literal: the character after the backslash, by character (0: none). */
const ESCAPE = new Uint8Array(128);
ESCAPE[0] = 0x30; // \0
ESCAPE[8] = 0x62; // \b
ESCAPE[9] = 0x74; // \t
ESCAPE[10] = 0x6e; // \n
ESCAPE[13] = 0x72; // \r
ESCAPE[26] = 0x5a; // \Z
ESCAPE[0x22] = 0x22; // \"
ESCAPE[0x27] = 0x27; // \'
ESCAPE[0x5c] = 0x5c; // \\

const QUOTE = 0x27;
const BACKSLASH = 0x5c;
const MS_PER_HOUR = 3_600_000;
/** Largest |epoch ms| a Date holds (ECMAScript's TimeClip); mysql2 writes a Date beyond it (invalid) as NULL. */
const MAX_TIME = 8.64e15;
/**
 * `'YYYY-MM-DD HH:` of recently written hours, direct-mapped by hour: a batch's event times and
 * decision times fall in a few hours, so a date costs a copy of a shared prefix and a few digits.
 */
const HOUR_SLOTS = 64;
const hourKeys = new Float64Array(HOUR_SLOTS).fill(NaN);
const hourTexts: string[] = new Array<string>(HOUR_SLOTS).fill('');

/** s escaped for a single-quoted literal as sql-escaper escapes it (quotes not included). */
export function escapedText(s: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const e = c < 128 ? (ESCAPE[c] as number) : 0;
    if (e === 0) continue;
    out += s.slice(from, i) + '\\' + String.fromCharCode(e);
    from = i + 1;
  }
  return from === 0 ? s : out + s.slice(from);
}

/**
 * Writes a statement's text: constant parts with `raw`, then tuples of values (`openRow`, a value
 * method per column, `closeRow`), read out with `text()`. Values are written as mysql2 writes them,
 * comma and space between them and between tuples. Reusable: `reset()` starts the next statement
 * in the same buffer.
 */
export class SqlText {
  private buf: Buffer;
  private pos = 0;
  /** No value yet in the open tuple (no separator before the next). */
  private rowStart = false;
  /** No tuple yet since the last raw text (no separator before the next). */
  private firstRow = true;
  /** A byte above 0x7f written: the text must be decoded as UTF-8 (else latin1 reads it, a plain copy). */
  private nonAscii = false;
  /** No item yet in the open JSON array (no comma before the next). */
  private jsonFirst = true;

  constructor(initialBytes = 1 << 20) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Empties the buffer for the next statement (its memory is kept). */
  reset(): this {
    this.pos = 0;
    this.rowStart = false;
    this.firstRow = true;
    this.nonAscii = false;
    return this;
  }

  /** The text written so far. */
  text(): string {
    // ASCII reads the same either way; Node copies latin1 without decoding (a large text even outside V8's heap).
    return this.buf.toString(this.nonAscii ? 'utf8' : 'latin1', 0, this.pos);
  }

  /** Appends ASCII text as it is (keywords, column lists). */
  raw(ascii: string): this {
    this.reserve(ascii.length);
    this.ascii(ascii);
    this.firstRow = true;
    return this;
  }

  /** Appends a whole statement's text as it is, in UTF-8 (one mysql2's formatter built: escaped already). */
  statement(sql: string): this {
    this.reserve(3 * sql.length);
    const bytes = this.buf.write(sql, this.pos, 'utf8');
    // More bytes than UTF-16 units: some character is not ASCII.
    if (bytes !== sql.length) this.nonAscii = true;
    this.pos += bytes;
    this.firstRow = true;
    return this;
  }

  /** Opens a tuple, `(`, after `, ` when it follows another. */
  openRow(): this {
    this.reserve(3);
    if (!this.firstRow) this.separator();
    this.buf[this.pos++] = 0x28;
    this.firstRow = false;
    this.rowStart = true;
    return this;
  }

  /** Closes the tuple, `)`. */
  closeRow(): this {
    this.reserve(1);
    this.buf[this.pos++] = 0x29;
    return this;
  }

  /** `'s'`, escaped as sql-escaper escapes it. */
  string(s: string): this {
    // Escaped, a UTF-16 unit takes at most 3 bytes of UTF-8 (a surrogate pair 4 for 2 units).
    this.reserve(3 * s.length + 4);
    this.next();
    this.buf[this.pos++] = QUOTE;
    this.escaped(s);
    this.buf[this.pos++] = QUOTE;
    return this;
  }

  /** `'s'`, or NULL for null and undefined (as mysql2 writes both). */
  nullableString(s: string | null | undefined): this {
    return s === null || s === undefined ? this.null() : this.string(s);
  }

  /** n as mysql2 writes a number: its JavaScript text (`1e+21`, `-1.5e-7`; NaN as `NaN`, which MySQL refuses). */
  number(n: number): this {
    this.reserve(26);
    this.next();
    if (Number.isSafeInteger(n)) this.integer(n);
    else this.ascii('' + n);
    return this;
  }

  /** n, or NULL for null and undefined. */
  nullableNumber(n: number | null | undefined): this {
    return n === null || n === undefined ? this.null() : this.number(n);
  }

  /** `true` or `false`. */
  boolean(b: boolean): this {
    this.reserve(7);
    this.next();
    this.ascii(b ? 'true' : 'false');
    return this;
  }

  /**
   * `'json'` as sinks/sql-literal.ts jsonLiteral has mysql2 write it: as it is, unless it holds a
   * quote, a backslash or NUL (then escaped as any string); NULL for null and undefined.
   */
  nullableJson(json: string | null | undefined): this {
    if (json === null || json === undefined) return this.null();
    if (json.indexOf("'") !== -1 || json.indexOf('\\') !== -1 || json.indexOf('\0') !== -1) return this.string(json);
    this.reserve(3 * json.length + 4);
    this.next();
    this.buf[this.pos++] = QUOTE;
    // A long text: V8 encodes it in one native copy.
    const bytes = this.buf.write(json, this.pos, 'utf8');
    if (bytes !== json.length) this.nonAscii = true;
    this.pos += bytes;
    this.buf[this.pos++] = QUOTE;
    return this;
  }

  /**
   * Opens a JSON array as a quoted literal, `'[`: its items are written with jsonNumber,
   * jsonScalar, then closeJsonArray. The text equals nullableJson of the array's JSON.stringify
   * text for the items JSON writes without escapes (what domain/snapshot.ts puts in a vector).
   */
  openJsonArray(): this {
    this.reserve(4);
    this.next();
    this.buf[this.pos++] = QUOTE;
    this.buf[this.pos++] = 0x5b; // '['
    this.jsonFirst = true;
    return this;
  }

  /** An array item: a number as JSON writes it (non-finite: null). */
  jsonNumber(n: number): this {
    this.reserve(28);
    this.jsonSeparator();
    if (Number.isSafeInteger(n)) this.integer(n);
    else this.ascii(Number.isFinite(n) ? '' + n : 'null');
    return this;
  }

  /**
   * An array item: null, a boolean, a number or a string that JSON and a SQL literal both write as
   * it is (a string with a quote, a backslash or a control character is refused: RangeError).
   */
  jsonScalar(v: string | number | boolean | null): this {
    if (typeof v === 'number') return this.jsonNumber(v);
    if (typeof v === 'string') {
      // eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
      if (/["'\\\u0000-\u001f]/.test(v))
        throw new RangeError(`a JSON item that would need escaping: ${JSON.stringify(v.slice(0, 40))}`);
      this.reserve(3 * v.length + 4);
      this.jsonSeparator();
      this.buf[this.pos++] = 0x22;
      const bytes = this.buf.write(v, this.pos, 'utf8');
      if (bytes !== v.length) this.nonAscii = true;
      this.pos += bytes;
      this.buf[this.pos++] = 0x22;
      return this;
    }
    this.reserve(8);
    this.jsonSeparator();
    this.ascii(v === null ? 'null' : v ? 'true' : 'false');
    return this;
  }

  /** Closes the array and its literal, `]'`. */
  closeJsonArray(): this {
    this.reserve(2);
    this.buf[this.pos++] = 0x5d; // ']'
    this.buf[this.pos++] = QUOTE;
    return this;
  }

  private jsonSeparator(): void {
    if (this.jsonFirst) this.jsonFirst = false;
    else this.buf[this.pos++] = 0x2c;
  }

  /**
   * `'YYYY-MM-DD HH:MM:SS.mmm'`, the UTC time of epoch milliseconds `ms`, as mysql2 writes
   * `new Date(ms)` with timezone 'Z'; NULL for a time no Date holds (as mysql2 writes an invalid Date).
   */
  date(ms: number): this {
    // What new Date(ms) holds: NaN beyond the range, else the integer towards zero.
    if (!(Math.abs(ms) <= MAX_TIME)) return this.null();
    const t = Math.trunc(ms);
    const hour = Math.floor(t / MS_PER_HOUR);
    const slot = hour & (HOUR_SLOTS - 1);
    let prefix = hourTexts[slot] as string;
    if (hourKeys[slot] !== hour) {
      prefix = hourPrefix(hour);
      hourKeys[slot] = hour;
      hourTexts[slot] = prefix;
    }
    this.reserve(prefix.length + 12);
    this.next();
    this.ascii(prefix);
    const inHour = t - hour * MS_PER_HOUR;
    const buf = this.buf;
    this.twoDigits(Math.floor(inHour / 60_000));
    buf[this.pos++] = 0x3a; // ':'
    this.twoDigits(Math.floor((inHour % 60_000) / 1000));
    buf[this.pos++] = 0x2e; // '.'
    const milli = inHour % 1000;
    buf[this.pos++] = 0x30 + Math.floor(milli / 100);
    this.twoDigits(milli % 100);
    buf[this.pos++] = QUOTE;
    return this;
  }

  /** NULL. */
  null(): this {
    this.reserve(6);
    this.next();
    this.ascii('NULL');
    return this;
  }

  /** The separator before a value, unless it is its tuple's first. */
  private next(): void {
    if (this.rowStart) this.rowStart = false;
    else this.separator();
  }

  private separator(): void {
    this.buf[this.pos++] = 0x2c;
    this.buf[this.pos++] = 0x20;
  }

  /** Room for `bytes` more: a value's worst case, checked once per value. */
  private reserve(bytes: number): void {
    if (this.pos + bytes + 2 <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.pos + bytes + 2));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  private ascii(s: string): void {
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
    this.pos = pos;
  }

  private twoDigits(n: number): void {
    this.buf[this.pos++] = 0x30 + Math.floor(n / 10);
    this.buf[this.pos++] = 0x30 + (n % 10);
  }

  private integer(n: number): void {
    const buf = this.buf;
    if (n < 0) {
      buf[this.pos++] = 0x2d;
      n = -n;
    }
    let digits = 1;
    for (let p = 10; p <= n; p *= 10) digits++;
    let end = this.pos + digits;
    this.pos = end;
    do {
      buf[--end] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    } while (n > 0);
  }

  /** s escaped, without quotes: ASCII byte by byte; text with any other character through V8's own UTF-8 encoder. */
  private escaped(s: string): void {
    const buf = this.buf;
    const start = this.pos;
    let pos = start;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 128) {
        // The bytes mysql2 would send for this text (lone surrogates as U+FFFD, as its encoder writes them).
        this.pos = start + buf.write(escapedText(s), start, 'utf8');
        this.nonAscii = true;
        return;
      }
      const e = ESCAPE[c] as number;
      if (e !== 0) {
        buf[pos++] = BACKSLASH;
        buf[pos++] = e;
      } else buf[pos++] = c;
    }
    this.pos = pos;
  }
}

/** `'YYYY-MM-DD HH:` of an hour since the epoch (UTC, the proleptic Gregorian calendar of Date). */
function hourPrefix(hour: number): string {
  const d = new Date(hour * MS_PER_HOUR);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `'${yearText(d.getUTCFullYear())}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ${two(d.getUTCHours())}:`;
}

/** The year as sql-escaper pads it: four digits, and its odd text for years before 10 (`000-5`). */
function yearText(y: number): string {
  return y < 10 ? '000' + y : y < 100 ? '00' + y : y < 1000 ? '0' + y : '' + y;
}
