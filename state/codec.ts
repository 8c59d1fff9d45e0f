/**
 * The binary encoding of one entity's window state (state/window-engine.ts EntityWindows): what a
 * contribution weighs in Redis and in the AOF, written once per batch per changed entity, so it is
 * compact (varints, bucket indexes as ages from the head, every merchant or country string once)
 * and versioned (a leading version byte; a decoder refuses any other version, a truncated blob and
 * trailing bytes with a StateCodecError, never a wrong state). docs/state.md gives the layout.
 *
 * Integers are exact: counts and bucket ages as unsigned LEB128 varints, sums (integer minor units,
 * beyond 2^31 and up to ±2^52) zigzag-encoded, all with arithmetic rather than 32-bit bit operations;
 * event times and the Welford mean and M2 as float64 (little endian).
 */
import { TxmonError } from '../platform/errors.ts';
import { EntityWindows, type WindowBuckets, type WindowGeometry } from './window-engine.ts';

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

/** The window's oldest live bucket index at the head (members below it are expired, not written). */
function oldestAt(head: number, g: WindowGeometry): number {
  return Math.floor(head / g.bucketMs) - g.buckets + 1;
}

/**
 * The string table of the encode in progress, built without a Map per encode (a fresh Map grew and
 * rehashed several times per entity: most of an encode's time). Every member string ever encoded
 * keeps a slot, stamped with the encode that last gave it an index; the slots are dropped together
 * when they pass MAX_SLOTS, so the memory stays bounded however many merchants pass through.
 */
interface Slot {
  stamp: number;
  index: number;
}
const MAX_SLOTS = 100_000;
const slots = new Map<string, Slot>();
let stamp = 0;
/** The table's strings in index order (first seen: windows smallest first, merchants before countries). */
const tableStrings: string[] = [];
/** Every live member of every window, in write order: its table index and its bucket index. */
const memberIndex: number[] = [];
const memberBucket: number[] = [];
let members = 0;
/** Oldest live bucket of the window being collected (module state: forEach with no closure allocates nothing). */
let collectOldest = 0;

function collect(bi: number, m: string): void {
  if (bi < collectOldest) return;
  let slot = slots.get(m);
  if (slot === undefined) {
    slot = { stamp: 0, index: 0 };
    slots.set(m, slot);
  }
  if (slot.stamp !== stamp) {
    slot.stamp = stamp;
    slot.index = tableStrings.length;
    tableStrings.push(m);
  }
  memberIndex[members] = slot.index;
  memberBucket[members++] = bi;
}

/** Collects the live members of a map; returns how many. */
function collectLive(map: Map<string, number>, oldest: number): number {
  const before = members;
  collectOldest = oldest;
  map.forEach(collect);
  return members - before;
}

/** Writes `n` collected members from position `from` (table index, age from the newest bucket). */
function writeMembers(w: Writer, from: number, n: number, newest: number): void {
  w.varint(n);
  for (let k = from; k < from + n; k++) {
    w.varint(memberIndex[k] as number);
    w.varint(newest - (memberBucket[k] as number));
  }
}

// Live members per window of the encode in progress: merchants at 2w, countries at 2w + 1.
const liveCounts: number[] = [];

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
  if (slots.size > MAX_SLOTS) slots.clear();
  stamp++;
  tableStrings.length = 0;
  members = 0;
  for (let i = 0; i < s.windows.length; i++) {
    const x = s.windows[i] as WindowBuckets;
    const oldest = oldestAt(head, s.geometry[i] as WindowGeometry);
    liveCounts[2 * i] = collectLive(x.merchants, oldest);
    liveCounts[2 * i + 1] = collectLive(x.countries, oldest);
  }
  w.varint(tableStrings.length);
  for (const m of tableStrings) w.str(m);
  let from = 0;
  for (let i = 0; i < s.windows.length; i++) {
    const x = s.windows[i] as WindowBuckets;
    const newest = Math.floor(head / (s.geometry[i] as WindowGeometry).bucketMs);
    w.varint(x.size);
    for (let j = 0; j < x.size; j++) {
      w.varint(newest - (x.index[j] as number));
      w.varint(x.counts[j] as number);
      w.signed(x.sums[j] as number);
    }
    for (let k = 2 * i; k <= 2 * i + 1; k++) {
      const n = liveCounts[k] as number;
      writeMembers(w, from, n, newest);
      from += n;
    }
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

/** Reads a member map (all live); returns how many. */
function readMembers(r: Reader, into: Map<string, number>, strings: readonly string[], newest: number, buckets: number): number {
  const n = r.varint();
  for (let i = 0; i < n; i++) {
    const m = strings[r.varint()];
    const age = r.varint();
    if (m === undefined || age >= buckets || into.has(m)) throw new StateCodecError(`bad member entry at byte ${r.pos}`);
    into.set(m, newest - age);
  }
  return n;
}

function readWindow(r: Reader, x: WindowBuckets, strings: readonly string[], newest: number, buckets: number): void {
  const k = r.varint();
  for (let j = 0; j < k; j++) {
    const bi = newest - r.varint();
    const count = r.varint();
    const sum = r.signed();
    const prev = x.size > 0 ? x.index[x.size - 1] : undefined;
    if (bi <= newest - buckets || count === 0 || (prev !== undefined && bi <= prev))
      throw new StateCodecError(`bad bucket entry at byte ${r.pos}`);
    x.index.push(bi);
    x.counts.push(count);
    x.sums.push(sum);
    x.size++;
    x.count += count;
    x.sum += sum;
  }
  x.distinctMerchants = readMembers(r, x.merchants, strings, newest, buckets);
  x.distinctCountries = readMembers(r, x.countries, strings, newest, buckets);
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
  for (let i = r.varint(); i > 0; i--) strings.push(r.str());
  geometry.forEach((g, i) => readWindow(r, s.windows[i] as WindowBuckets, strings, Math.floor(head / g.bucketMs), g.buckets));
  r.end();
  return s;
}
