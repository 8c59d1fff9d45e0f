/**
 * The window state codec: a round trip keeps the state (its features now and after any further
 * events), and a wrong version, other windows, a truncated or padded blob are refused clearly.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EntityEvent } from '../domain/entity-features.ts';
import { DEFAULT_WINDOWS } from '../domain/windows.ts';
import { DEFAULT_SCALE, SMALL_SCALE, SMALL_WINDOWS, eventStream, type StreamScale } from '../tests/helpers/window-streams.ts';
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
    expect(back.windows[1]?.sums.slice(0, back.windows[1]?.size)).toEqual([2 ** 52 - 3, -(2 ** 40) - 1]);
    expect([...(back.windows[1]?.merchants.keys() ?? [])]).toEqual(['m', 'ü-merchant ✓']);
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
