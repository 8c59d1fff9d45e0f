/**
 * Micro-benchmark of the in-memory window engine (state/window-engine.ts) and its codec
 * (state/codec.ts) on realistic entity sizes, with the default windows: an account with ~50 events
 * in 24 h and a merchant with ~5,000. Prints µs per apply (into a reused Float64Array and into a
 * fresh array), per encode, decode, clone and merge, the encoded size, the heap a state keeps, and
 * bytes allocated per apply (with --expose-gc). Not a test: it measures and prints; figures drift
 * with the machine's load.
 *
 *   node --expose-gc --import tsx bench/state-engine.ts
 */
import type { EntityEvent } from '../domain/entity-features.ts';
import { DEFAULT_WINDOWS } from '../domain/windows.ts';
import { decodeWindowState, encodeWindowState } from '../state/codec.ts';
import { EntityWindows, featureLength, geometryOf } from '../state/window-engine.ts';

const DAY = 86_400_000;
const T0 = 1_700_000_000_000;
const gc = (globalThis as { gc?: () => void }).gc;

/** A deterministic pseudo-random source (the figures are comparable run to run). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Profile {
  name: string;
  perDay: number;
  merchants: number;
  countries: number;
}

const PROFILES: Profile[] = [
  { name: 'account (~50 events / 24 h)', perDay: 50, merchants: 30, countries: 3 },
  { name: 'merchant (~5,000 events / 24 h)', perDay: 5_000, merchants: 1, countries: 8 },
];

/** `n` events at the profile's rate, a few out of order, some without amount or location. */
function stream(p: Profile, n: number, seed: number): EntityEvent[] {
  const r = rng(seed);
  const step = DAY / p.perDay;
  let t = T0;
  return Array.from({ length: n }, () => {
    t += Math.round(step * 2 * r());
    const late = r() < 0.01;
    const located = r() < 0.7;
    return {
      eventTime: r() < 0.05 ? t - Math.round(step * 3 * r()) : t,
      amountMinor: r() < 0.02 ? null : 100 + Math.floor(r() * 50_000),
      merchantId: `merchant-${Math.floor(r() * p.merchants)}`,
      country: ['US', 'GB', 'FR', 'DE', 'ES', 'IT', 'NL', 'SE'][Math.floor(r() * p.countries)] as string,
      lat: located ? 40 + r() * 10 : null,
      lon: located ? -5 + r() * 10 : null,
      late,
    };
  });
}

/**
 * µs per call of `fn` over `runs` calls, best of three rounds (the least disturbed by other load).
 * `fn` gets a running index across rounds, so a stream goes on rather than replaying old events.
 */
function time(runs: number, fn: (i: number) => void): number {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < runs; i++) fn(round * runs + i);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1_000 / runs);
  }
  return best;
}

/** Heap bytes allocated per call, median of rounds small enough that no GC runs inside them. */
function allocated(runs: number, fn: (i: number) => void): number | null {
  if (!gc) return null;
  const per: number[] = [];
  for (let round = 0; round < 9; round++) {
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < runs; i++) fn(round * runs + i);
    per.push((process.memoryUsage().heapUsed - before) / runs);
  }
  per.sort((a, b) => a - b);
  return per[4] as number;
}

/** Heap a state keeps: `count` states built from the same stream, measured after a GC. */
function retained(events: readonly EntityEvent[], count: number): number | null {
  if (!gc) return null;
  gc();
  const before = process.memoryUsage().heapUsed;
  const keep: EntityWindows[] = [];
  for (let i = 0; i < count; i++) {
    const s = EntityWindows.of(DEFAULT_WINDOWS);
    for (const e of events) s.apply(e);
    keep.push(s);
  }
  gc();
  const bytes = (process.memoryUsage().heapUsed - before) / count;
  return keep.length === count ? bytes : null;
}

const fmt = (x: number | null, digits = 2) => (x === null ? 'n/a (run with --expose-gc)' : x.toFixed(digits));

function benchProfile(p: Profile): void {
  const warm = stream(p, p.perDay * 3, 1); // three days: the windows are full and sliding
  const more = stream(p, 210_000, 2).map((e) => ({ ...e, eventTime: e.eventTime + 3 * DAY }));
  const state = EntityWindows.of(DEFAULT_WINDOWS);
  for (const e of warm) state.apply(e);
  const out = new Float64Array(featureLength(DEFAULT_WINDOWS.length));

  // Applying: a long stream, so the state stays at its steady size.
  const apply = state.clone();
  const usApply = time(more.length / 3, (i) => apply.apply(more[i] as EntityEvent, out));
  const fresh = state.clone();
  const usApplyArray = time(more.length / 3, (i) => fresh.apply(more[i] as EntityEvent));
  const alloc = state.clone();
  const bytesApply = allocated(2_000, (i) => alloc.apply(more[i] as EntityEvent, out));
  const allocArray = state.clone();
  const bytesApplyArray = allocated(2_000, (i) => allocArray.apply(more[i] as EntityEvent));

  const bytes = encodeWindowState(state);
  const geometry = geometryOf(DEFAULT_WINDOWS);
  const runs = p.perDay > 1_000 ? 2_000 : 20_000;
  const usEncode = time(runs, () => encodeWindowState(state));
  const usDecode = time(runs, () => decodeWindowState(bytes, geometry));
  const usClone = time(runs, () => state.clone());
  // Two contributions of the same entity (half the events each, as from two partitions).
  const a = EntityWindows.of(DEFAULT_WINDOWS);
  const b = EntityWindows.of(DEFAULT_WINDOWS);
  warm.forEach((e, i) => (i % 2 ? a : b).apply(e));
  const usCloneMerge = time(runs, () => a.clone().merge(b));
  const heap = retained(warm, p.perDay > 1_000 ? 200 : 5_000);

  const live = state.windows.map((w) => w.size).join('/');
  console.log(`\n${p.name}: ${state.windows.map((w) => w.count).join('/')} events and ${live} live buckets in 1m/1h/24h`);
  console.log(`  apply, into a reused Float64Array   ${fmt(usApply, 3)} µs   ${fmt(bytesApply, 0)} bytes allocated`);
  console.log(`  apply, returning a new array        ${fmt(usApplyArray, 3)} µs   ${fmt(bytesApplyArray, 0)} bytes allocated`);
  console.log(`  encode                              ${fmt(usEncode)} µs   ${bytes.length} bytes encoded`);
  console.log(`  decode                              ${fmt(usDecode)} µs`);
  console.log(`  clone                               ${fmt(usClone)} µs`);
  console.log(`  clone + merge of two halves         ${fmt(usCloneMerge)} µs`);
  console.log(`  heap kept per state                 ${fmt(heap, 0)} bytes`);
}

console.log(`window engine, default windows (${DEFAULT_WINDOWS.map((w) => w.name).join(', ')}); node ${process.version}`);
for (const p of PROFILES) benchProfile(p);
