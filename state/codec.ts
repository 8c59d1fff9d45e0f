/**
 * The binary encoding of one entity's window state (state/window-engine.ts EntityWindows): what a
 * contribution weighs in Redis and in the AOF, written once per checkpoint per changed entity, so it
 * is compact (varints, bucket indexes as ages from the head, each live member's string once)
 * and versioned (a leading version byte; a decoder refuses any other version, a truncated blob and
 * trailing bytes with a StateCodecError, never a wrong state). docs/state.md gives the layout.
 *
 * Integers are exact: counts and bucket ages as unsigned LEB128 varints, sums (integer minor units,
 * beyond 2^31 and up to ±2^52) zigzag-encoded, all with arithmetic rather than 32-bit bit operations;
 * event times and the Welford mean and M2 as float64 (little endian).
 */
import { TxmonError } from '../platform/errors.ts';
import { EntityWindows, pooledMember, startTick, type WindowBuckets, type WindowGeometry } from './window-engine.ts';

/** The layout version this module writes (and the only one it reads). */
export const STATE_CODEC_VERSION = 1;

const HAS_HEAD = 1;
const HAS_LOCATED = 2;
/** Largest magnitude a zigzag varint keeps exact (2 * 2^52 stays a safe integer). */
const MAX_SIGNED = 2 ** 52;

/** A stored window state that cannot be read (wrong version, truncated, inconsistent): never retried. */
export class StateCodecError extends TxmonError {
  constructor(message: string) {
    super('INVARIANT_BROKEN', `window state: ${message}`);
  }
}

/** A growable byte buffer reused across encodes: one allocation per encode, the result's. */
class Writer {
  buf = Buffer.allocUnsafe(4096);
  pos = 0;

  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf[this.pos++] = v;
  }

  varint(v: number): void {
    this.reserve(8);
    if (v >>> 0 === v) {
      // Below 2^32 (nearly every value): 32-bit operations.
      const buf = this.buf;
      while (v >= 0x80) {
        buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[this.pos++] = v;
      return;
    }
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`cannot encode ${v} as an unsigned varint`);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) + 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  signed(v: number): void {
    if (!Number.isInteger(v) || Math.abs(v) > MAX_SIGNED)
      throw new RangeError(`cannot encode ${v} exactly (sums are integers within ±2^52)`);
    this.varint(v >= 0 ? 2 * v : -2 * v - 1);
  }

  f64(v: number): void {
    this.reserve(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** A string as its UTF-8 length and bytes; ASCII (ids, country codes) is copied here, not in C++. */
  str(s: string): void {
    const n = s.length;
    this.reserve(n + 8);
    const buf = this.buf;
    let ascii = true;
    for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) ascii = false;
    if (!ascii) {
      const bytes = Buffer.byteLength(s, 'utf8');
      this.varint(bytes);
      this.reserve(bytes);
      this.pos += this.buf.write(s, this.pos, 'utf8');
      return;
    }
    this.varint(n);
    let pos = this.pos;
    for (let i = 0; i < n; i++) buf[pos++] = s.charCodeAt(i);
    this.pos = pos;
  }

  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.pos));
    this.pos = 0;
    return out;
  }
}

const isAscii = (b: number) => b < 0x80;

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  need(n: number): void {
    if (this.pos + n > this.buf.length)
      throw new StateCodecError(`truncated at byte ${this.buf.length} (needed ${this.pos + n})`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }

  varint(): number {
    const buf = this.buf;
    let pos = this.pos;
    let v = 0;
    let shift = 0;
    let b: number;
    do {
      if (pos >= buf.length) throw new StateCodecError(`truncated at byte ${buf.length} (needed ${pos + 1})`);
      if (shift > 49) throw new StateCodecError(`varint too long at byte ${pos}`);
      b = buf[pos++] as number;
      // The first four bytes (28 bits) with 32-bit operations, the rest with exact arithmetic.
      v = shift < 28 ? v | ((b & 0x7f) << shift) : v + (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b >= 0x80);
    this.pos = pos;
    if (!Number.isSafeInteger(v)) throw new StateCodecError(`varint beyond 2^53 at byte ${pos}`);
    return v;
  }

  signed(): number {
    const z = this.varint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** A string written by Writer.str; short ASCII ones are built here, without a call into C++. */
  str(): string {
    const n = this.varint();
    this.need(n);
    const start = this.pos;
    this.pos += n;
    const bytes = this.buf.subarray(start, start + n);
    if (n <= 64 && bytes.every(isAscii)) return String.fromCharCode.apply(null, bytes as unknown as number[]);
    return this.buf.toString('utf8', start, start + n);
  }

  end(): void {
    if (this.pos !== this.buf.length)
      throw new StateCodecError(`${this.buf.length - this.pos} trailing bytes after byte ${this.pos}`);
  }
}

const writer = new Writer();

/**
 * The members of the encode in progress that are live in some window, in map order: merchants
 * first, then countries (module state: Map.forEach with a callback that closes over nothing
 * allocates nothing). Their positions are their string table indexes: within a kind the map's
 * keys are unique, so the table needs no look-up, and it lists each kind in its map's order, which
 * is what lets a decode refill the maps in the same order (the same bytes again).
 */
const memberStrings: string[] = [];
const memberTimes: number[] = [];
let members = 0;
let liveFrom = 0;

function collect(t: number, m: string): void {
  if (t < liveFrom) return;
  memberStrings[members] = m;
  memberTimes[members++] = t;
}

/** Writes the members in [from, to) live in a window: their count, then each one's table index and bucket age. */
function writeMembers(w: Writer, from: number, to: number, g: WindowGeometry, head: number, tick: number): void {
  const start = startTick(head, g, tick);
  let n = 0;
  for (let k = from; k < to; k++) if ((memberTimes[k] as number) >= start) n++;
  w.varint(n);
  const newest = Math.floor(head / g.bucketMs);
  const per = g.bucketMs / tick;
  for (let k = from; k < to; k++) {
    const t = memberTimes[k] as number;
    if (t < start) continue;
    w.varint(k);
    w.varint(newest - Math.floor(t / per));
  }
}

/** Encodes a window state (layout: docs/state.md, "The codec"). */
export function encodeWindowState(s: EntityWindows): Buffer {
  const w = writer;
  w.pos = 0;
  w.u8(STATE_CODEC_VERSION);
  w.varint(s.geometry.length);
  for (const g of s.geometry) {
    w.varint(g.bucketMs);
    w.varint(g.buckets);
  }
  w.u8((s.head === null ? 0 : HAS_HEAD) | (s.locatedAt === null ? 0 : HAS_LOCATED));
  if (s.head === null) return w.take();
  w.f64(s.head);
  w.varint(s.amountN);
  if (s.amountN > 0) {
    w.f64(s.amountMean);
    w.f64(s.amountM2);
  }
  if (s.locatedAt !== null) {
    w.f64(s.locatedAt);
    w.f64(s.locatedLat);
    w.f64(s.locatedLon);
  }
  const head = s.head;
  liveFrom = Number.POSITIVE_INFINITY;
  for (const g of s.geometry) liveFrom = Math.min(liveFrom, startTick(head, g, s.tick));
  members = 0;
  s.merchants.forEach(collect);
  const merchants = members;
  s.countries.forEach(collect);
  w.varint(members);
  for (let k = 0; k < members; k++) w.str(memberStrings[k] as string);
  for (let i = 0; i < s.windows.length; i++) {
    const x = s.windows[i] as WindowBuckets;
    const g = s.geometry[i] as WindowGeometry;
    const newest = Math.floor(head / g.bucketMs);
    w.varint(x.size);
    const b = x.b;
    for (let j = 0; j < x.size; j++) {
      w.varint(newest - (b[3 * j] as number));
      w.varint(b[3 * j + 1] as number);
      w.signed(b[3 * j + 2] as number);
    }
    writeMembers(w, 0, merchants, g, head, s.tick);
    writeMembers(w, merchants, members, g, head, s.tick);
  }
  return w.take();
}

function readGeometry(r: Reader, expected: readonly WindowGeometry[]): void {
  const n = r.varint();
  const got: WindowGeometry[] = [];
  for (let i = 0; i < n; i++) got.push({ bucketMs: r.varint(), buckets: r.varint() });
  const same =
    n === expected.length && got.every((g, i) => g.bucketMs === expected[i]?.bucketMs && g.buckets === expected[i]?.buckets);
  if (!same) {
    const show = (gs: readonly WindowGeometry[]) => gs.map((g) => `${g.bucketMs}:${g.buckets}`).join(',');
    throw new StateCodecError(`written for windows ${show(got)}, expected ${show(expected)}`);
  }
}

/**
 * One member kind of the decode in progress, by string table index: whether a window of this decode
 * listed it, and the bounds of its newest time (each window that lists it narrows them to its bucket).
 */
class MemberScratch {
  low: number[] = [];
  high: number[] = [];
  /** Equal to the decode's stamp once a window of this decode has listed the member. */
  seen: number[] = [];
  /** Equal to the list's stamp once listed in the list being read (a member twice in one list is an error). */
  inList: number[] = [];
}
const merchantScratch = new MemberScratch();
const countryScratch = new MemberScratch();
let decodeStamp = 0;
let listStamp = 0;

/** Reads one window's member list (all live); returns how many. The maps are filled after every window is read. */
function readMembers(
  r: Reader,
  m: MemberScratch,
  strings: readonly string[],
  newest: number,
  g: WindowGeometry,
  tick: number,
): number {
  const n = r.varint();
  listStamp++;
  for (let i = 0; i < n; i++) {
    const k = r.varint();
    const age = r.varint();
    if (k >= strings.length || age >= g.buckets || m.inList[k] === listStamp)
      throw new StateCodecError(`bad member entry at byte ${r.pos}`);
    m.inList[k] = listStamp;
    const per = g.bucketMs / tick;
    const low = (newest - age) * per;
    const high = low + per;
    if (m.seen[k] !== decodeStamp) {
      m.seen[k] = decodeStamp;
      m.low[k] = low;
      m.high[k] = high;
    } else {
      if (low > (m.low[k] as number)) m.low[k] = low;
      if (high < (m.high[k] as number)) m.high[k] = high;
    }
  }
  return n;
}

/**
 * Puts member `k` in its map if a window listed it: its time is the latest bucket start its windows
 * allow, which lies in every listed window's bucket (nested buckets or not) and, being at or before
 * the true time, in no window that did not list it. Returns whether it was listed.
 */
function fillMember(into: Map<string, number>, m: MemberScratch, k: number, strings: readonly string[]): boolean {
  if (m.seen[k] !== decodeStamp) return false;
  const low = m.low[k] as number;
  if (low >= (m.high[k] as number)) throw new StateCodecError(`member ${k}'s buckets disagree between windows`);
  const name = strings[k] as string;
  if (into.has(name)) throw new StateCodecError(`member ${JSON.stringify(name)} twice in the table`);
  into.set(name, low);
  return true;
}

/**
 * Each window's distinct counts are its lists' lengths; they must be the members whose rebuilt time
 * lies in the window (a member listed only by a larger window at a bucket inside a smaller one would
 * otherwise count there later but not now).
 */
function checkCounts(s: EntityWindows, head: number): void {
  s.geometry.forEach((g, w) => {
    const start = startTick(head, g, s.tick);
    const x = s.windows[w] as WindowBuckets;
    let merchants = 0;
    let countries = 0;
    for (const t of s.merchants.values()) if (t >= start) merchants++;
    for (const t of s.countries.values()) if (t >= start) countries++;
    if (merchants !== x.distinctMerchants || countries !== x.distinctCountries)
      throw new StateCodecError(`window ${w} lists members that do not match their buckets in the other windows`);
  });
}

function readWindow(
  r: Reader,
  x: WindowBuckets,
  strings: readonly string[],
  newest: number,
  g: WindowGeometry,
  tick: number,
): void {
  const k = r.varint();
  const b = x.b;
  for (let j = 0; j < k; j++) {
    const bi = newest - r.varint();
    const count = r.varint();
    const sum = r.signed();
    const prev = x.size > 0 ? b[3 * (x.size - 1)] : undefined;
    if (bi <= newest - g.buckets || count === 0 || (prev !== undefined && bi <= prev))
      throw new StateCodecError(`bad bucket entry at byte ${r.pos}`);
    b.push(bi, count, sum);
    x.size++;
    x.count += count;
    x.sum += sum;
  }
  x.distinctMerchants = readMembers(r, merchantScratch, strings, newest, g, tick);
  x.distinctCountries = readMembers(r, countryScratch, strings, newest, g, tick);
  // Unknown: the first eviction counts the members.
  x.merchantFloor = Number.NEGATIVE_INFINITY;
  x.countryFloor = Number.NEGATIVE_INFINITY;
}

/**
 * Decodes a window state written by encodeWindowState for the given windows (geometryOf of the
 * configured windows). Throws StateCodecError on another version, other windows, a truncated or
 * otherwise malformed blob.
 */
export function decodeWindowState(bytes: Uint8Array, geometry: readonly WindowGeometry[]): EntityWindows {
  const r = new Reader(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const version = r.u8();
  if (version !== STATE_CODEC_VERSION)
    throw new StateCodecError(`layout version ${version}, this build reads ${STATE_CODEC_VERSION}`);
  readGeometry(r, geometry);
  const s = new EntityWindows(geometry);
  const flags = r.u8();
  if (flags & ~(HAS_HEAD | HAS_LOCATED) || (flags & HAS_LOCATED && !(flags & HAS_HEAD)))
    throw new StateCodecError(`bad flags ${flags}`);
  if (!(flags & HAS_HEAD)) {
    r.end();
    return s;
  }
  const head = r.f64();
  s.head = head;
  s.amountN = r.varint();
  if (s.amountN > 0) {
    s.amountMean = r.f64();
    s.amountM2 = r.f64();
  }
  if (flags & HAS_LOCATED) {
    s.locatedAt = r.f64();
    s.locatedLat = r.f64();
    s.locatedLon = r.f64();
  }
  const strings: string[] = [];
  for (let i = r.varint(); i > 0; i--) strings.push(pooledMember(r.str()));
  decodeStamp++;
  geometry.forEach((g, i) => readWindow(r, s.windows[i] as WindowBuckets, strings, Math.floor(head / g.bucketMs), g, s.tick));
  r.end();
  // In table order: what this module writes lists each kind in its map's order. (Version 1 blobs
  // written before 2026-12-05 share one table between the kinds, in first-seen order.)
  for (let k = 0; k < strings.length; k++) {
    const merchant = fillMember(s.merchants, merchantScratch, k, strings);
    const country = fillMember(s.countries, countryScratch, k, strings);
    if (!merchant && !country) throw new StateCodecError(`string ${k} of the table is no live member`);
  }
  checkCounts(s, head);
  return s;
}
