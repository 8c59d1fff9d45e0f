/**
 * The window state codec: a round trip keeps the state (its features now and after any further
 * events), and a wrong version, other windows, a truncated or padded blob are refused clearly.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EntityEvent } from '../domain/entity-features.ts';
import { DEFAULT_WINDOWS } from '../domain/windows.ts';
import {
  DEFAULT_SCALE,
  SMALL_SCALE,
  SMALL_WINDOWS,
  UNNESTED_SCALE,
  eventStream,
  unlocated,
  type StreamScale,
} from '../tests/helpers/window-streams.ts';
import { STATE_CODEC_VERSION, StateCodecError, decodeWindowState, encodeWindowState } from './codec.ts';
import { EntityWindows, geometryOf } from './window-engine.ts';

function applied(events: readonly EntityEvent[], scale: StreamScale): EntityWindows {
  const s = EntityWindows.of(scale.windows);
  for (const e of events) s.apply(e);
  return s;
}

describe('encodeWindowState / decodeWindowState', () => {
  it.each([
    ['small windows', SMALL_SCALE],
    ['the default windows', DEFAULT_SCALE],
    ['windows whose buckets do not nest', UNNESTED_SCALE],
  ] as const)('round-trips: same features, same results for further events, same bytes again (%s)', (_, scale) => {
    fc.assert(
      fc.property(eventStream(scale), fc.nat(), (events, cut) => {
        const at = cut % (events.length + 1);
        const s = applied(events.slice(0, at), scale);
        const bytes = encodeWindowState(s);
        expect(bytes[0]).toBe(STATE_CODEC_VERSION);
        const back = decodeWindowState(bytes, geometryOf(scale.windows));
        expect(back.features()).toEqual(s.features());
        expect(back.head).toBe(s.head);
        expect(encodeWindowState(back).equals(bytes)).toBe(true);
        for (const e of events.slice(at)) expect(back.apply(e)).toEqual(s.apply(e));
      }),
      { numRuns: 200 },
    );
  });

  it('keeps large and negative sums exact', () => {
    const s = EntityWindows.of(SMALL_WINDOWS);
    const e: EntityEvent = {
      eventTime: 1_000,
      amountMinor: 2 ** 52 - 3,
      merchantId: 'm',
      country: 'US',
      lat: null,
      lon: null,
      late: false,
    };
    s.apply(e);
    s.apply({ ...e, eventTime: 12_000, amountMinor: -(2 ** 40) - 1, merchantId: 'ü-merchant ✓' });
    const back = decodeWindowState(encodeWindowState(s), geometryOf(SMALL_WINDOWS));
    expect(back.features()).toEqual(s.features());
    expect(back.buckets(1).map(([, , sum]) => sum)).toEqual([2 ** 52 - 3, -(2 ** 40) - 1]);
    expect(back.liveMembers(1, 'merchants').map(([m]) => m)).toEqual(['m', 'ü-merchant ✓']);
  });

  it('keeps a merchant and a country of the same name apart', () => {
    const s = EntityWindows.of(SMALL_WINDOWS);
    const e: EntityEvent = {
      eventTime: 1_000,
      amountMinor: 5,
      merchantId: 'US',
      country: 'US',
      lat: null,
      lon: null,
      late: false,
    };
    s.apply(e);
    s.apply({ ...e, eventTime: 30_000, merchantId: 'FR' });
    const back = decodeWindowState(encodeWindowState(s), geometryOf(SMALL_WINDOWS));
    expect([...back.merchants.keys()]).toEqual(['US', 'FR']);
    expect([...back.countries.keys()]).toEqual(['US']);
    for (const w of [0, 1])
      for (const kind of ['merchants', 'countries'] as const) expect(back.liveMembers(w, kind)).toEqual(s.liveMembers(w, kind));
    expect(back.features()).toEqual(s.features());
  });

  /** A blob of SMALL_WINDOWS (2 s × 5, 10 s × 6) at head 20,000 with one event and member "m" at the given ages. */
  /** Per window, its merchant list: (table index, bucket age) pairs. */
  function handMade(table: string[], merchantLists: Array<Array<[number, number]>>): Buffer {
    const bytes: number[] = [STATE_CODEC_VERSION, 2, ...varint(2_000), 5, ...varint(10_000), 6, 1];
    const head = Buffer.alloc(8);
    head.writeDoubleLE(20_000);
    bytes.push(...head, 0, table.length);
    for (const t of table) bytes.push(t.length, ...Buffer.from(t));
    for (const list of merchantLists) {
      bytes.push(1, 0, 1, 0); // one bucket: age 0, count 1, sum 0
      bytes.push(list.length, ...list.flat(), 0); // merchants, then no countries
    }
    return Buffer.from(bytes);
  }
  function varint(v: number): number[] {
    const out: number[] = [];
    while (v >= 0x80) {
      out.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    return [...out, v];
  }

  it("rebuilds a member's newest time from its windows, and refuses windows that disagree on it", () => {
    const g = geometryOf(SMALL_WINDOWS);
    const ok = decodeWindowState(handMade(['m'], [[[0, 0]], [[0, 0]]]), g);
    expect(ok.merchants.get('m')).toBe(20_000 / ok.tick);
    expect(ok.liveMembers(0, 'merchants')).toEqual([['m', 10]]);
    expect(ok.liveMembers(1, 'merchants')).toEqual([['m', 2]]);
    expect(encodeWindowState(ok).equals(handMade(['m'], [[[0, 0]], [[0, 0]]]))).toBe(true);
    // Live in the 1 m window only, in its newest bucket: its time is that bucket's start, before the 10 s window.
    expect(decodeWindowState(handMade(['m'], [[], [[0, 1]]]), g).merchants.get('m')).toBe(10_000 / ok.tick);
    // [20,000, 22,000) in the 10 s window but [10,000, 20,000) in the 1 m one: no time is both.
    expect(() => decodeWindowState(handMade(['m'], [[[0, 0]], [[0, 1]]]), g)).toThrow(/buckets disagree/);
    // A string no window lists.
    expect(() => decodeWindowState(handMade(['m', 'x'], [[[0, 0]], [[0, 0]]]), g)).toThrow(/no live member/);
    // Listed by the 1 m window only, in the bucket that holds the 10 s window's live span: it would be
    // live there too, so the 10 s window's empty list contradicts it.
    expect(() => decodeWindowState(handMade(['m'], [[], [[0, 0]]]), g)).toThrow(/do not match/);
  });

  it('refuses a member twice in the table', () => {
    const g = geometryOf(SMALL_WINDOWS);
    // Table ['m', 'm'], both windows listing both: two distinct members by count, one by name.
    const patched = handMade(
      ['m', 'm'],
      [
        [
          [0, 0],
          [1, 0],
        ],
        [
          [0, 0],
          [1, 0],
        ],
      ],
    );
    expect(() => decodeWindowState(patched, g)).toThrow(/twice in the table/);
  });

  it('reads a blob written before 2026-12-05 (one table for both kinds, members per window)', () => {
    // The encoder of that day (one member map per window), over these events with the default windows.
    const before =
      'AQOIJwzg1AM8oPc2YAEAgL1BBb14QgYAAAAAAABZQAAAAAAAAAAACANtLTEDbS0yA20tMwJGUgJVUwJERQNtLTQCSVQECwHIAQUBAAEByAEAAcgBAwAFAQACAQMDAAQBBQsDAwHIAQECyAEAApADBAABAQACAAYDBAMABAAFAQcDAwgByAEEAcgBAAWgBgUAAAQEAQACAAYABAMABAAFAAcA';
    const T = 1_700_000_000_000;
    const e = (dt: number, merchantId: string, country: string, amountMinor: number | null = 100) =>
      unlocated(T + dt, amountMinor, merchantId, country);
    const s = EntityWindows.of(DEFAULT_WINDOWS);
    for (const x of [
      e(0, 'm-1', 'FR'),
      e(3_600_000, 'US', 'US'),
      e(7_200_000, 'm-2', 'DE'),
      e(7_230_000, 'm-1', 'FR', null),
      e(7_250_000, 'm-3', 'US'),
      e(7_100_000, 'm-4', 'IT'),
      e(7_255_000, 'm-2', 'FR'),
    ])
      s.apply(x);
    const back = decodeWindowState(Buffer.from(before, 'base64'), geometryOf(DEFAULT_WINDOWS));
    expect(back.features()).toEqual(s.features());
    expect(back.head).toBe(s.head);
    const sorted = (xs: Array<[string, number]>) => [...xs].sort(([a], [b]) => (a < b ? -1 : 1));
    for (let w = 0; w < DEFAULT_WINDOWS.length; w++) {
      expect(back.buckets(w)).toEqual(s.buckets(w));
      for (const kind of ['merchants', 'countries'] as const)
        expect(sorted(back.liveMembers(w, kind)), `${kind} in window ${w}`).toEqual(sorted(s.liveMembers(w, kind)));
    }
    expect(back.merchants.has('US') && back.countries.has('US')).toBe(true);
    const next = e(7_260_000, 'US', 'DE');
    expect(back.apply(next)).toEqual(s.apply(next));
  });

  it('refuses a sum it cannot keep exact', () => {
    const s = EntityWindows.of(SMALL_WINDOWS);
    s.apply({ eventTime: 1_000, amountMinor: 2 ** 53, merchantId: 'm', country: 'US', lat: null, lon: null, late: false });
    expect(() => encodeWindowState(s)).toThrow(RangeError);
  });

  it('refuses another version, other windows, truncated input and trailing bytes', () => {
    const s = EntityWindows.of(DEFAULT_WINDOWS);
    s.apply({ eventTime: 1_700_000_000_000, amountMinor: 100, merchantId: 'm', country: 'US', lat: 1, lon: 2, late: false });
    const bytes = encodeWindowState(s);
    const g = geometryOf(DEFAULT_WINDOWS);
    const wrongVersion = Buffer.from(bytes);
    wrongVersion[0] = STATE_CODEC_VERSION + 1;
    expect(() => decodeWindowState(wrongVersion, g)).toThrow(/layout version 2, this build reads 1/);
    expect(() => decodeWindowState(bytes, geometryOf(SMALL_WINDOWS))).toThrow(/written for windows 5000:12,60000:60,900000:96/);
    for (let n = 0; n < bytes.length; n++) {
      expect(() => decodeWindowState(bytes.subarray(0, n), g), `prefix of ${n} bytes`).toThrow(StateCodecError);
    }
    expect(() => decodeWindowState(Buffer.concat([bytes, Buffer.from([0])]), g)).toThrow(/1 trailing bytes/);
    expect(decodeWindowState(new Uint8Array(bytes), g).features()).toEqual(s.features());
  });

  it('encodes an empty state in a few bytes', () => {
    const bytes = encodeWindowState(EntityWindows.of(DEFAULT_WINDOWS));
    expect(bytes.length).toBeLessThan(16);
    expect(decodeWindowState(bytes, geometryOf(DEFAULT_WINDOWS)).head).toBeNull();
  });
});
