import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineRead } from './deadline-read.ts';

/** A read whose every call is a promise the test settles. */
function controlledRead<T>() {
  const calls: Array<{ resolve: (v: T) => void; reject: (e: unknown) => void }> = [];
  const read = () => new Promise<T>((resolve, reject) => calls.push({ resolve, reject }));
  return { read, calls };
}

beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
afterEach(() => vi.useRealTimers());

describe('DeadlineRead', () => {
  it('concurrent callers share one read in flight', async () => {
    const { read, calls } = controlledRead<number>();
    const r = new DeadlineRead(read, { deadlineMs: 2_000, freshMs: 5_000 });
    const waiting = Promise.all([r.get(), r.get(), r.get()]);
    expect(calls).toHaveLength(1);
    calls[0]?.resolve(7);
    for (const g of await waiting) expect(g).toEqual({ value: 7, ageMs: 0, failure: null });
  });

  it('a read that does not answer in time: callers get the last value with its age at the deadline, and no second read starts beside it', async () => {
    const { read, calls } = controlledRead<number>();
    const outcomes: string[] = [];
    const r = new DeadlineRead(read, { deadlineMs: 2_000, freshMs: 5_000, onOutcome: (o) => outcomes.push(o) });
    const first = r.get();
    calls[0]?.resolve(1);
    await first;
    await vi.advanceTimersByTimeAsync(6_000);
    const late = r.get();
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await late).toEqual({ value: 1, ageMs: 8_000, failure: 'timeout' });
    // The hung read is still the one in flight: a later caller does not wait, and starts nothing.
    const again = r.get();
    expect(await again).toEqual({ value: 1, ageMs: 8_000, failure: 'timeout' });
    expect(calls).toHaveLength(2);
    expect(outcomes).toEqual(['ok', 'timeout']);
    // When it settles at last, its value is stored, stamped when it arrived.
    await vi.advanceTimersByTimeAsync(1_000);
    calls[1]?.resolve(2);
    await Promise.resolve();
    expect(await r.get()).toEqual({ value: 2, ageMs: 0, failure: null });
  });

  it('a failure is reused for the freshness period (stamped when it settled), then read again', async () => {
    const { read, calls } = controlledRead<number>();
    const r = new DeadlineRead(read, { deadlineMs: 2_000, freshMs: 5_000 });
    const first = r.get();
    await vi.advanceTimersByTimeAsync(1_500);
    calls[0]?.reject(new Error('UNKNOWN_TOPIC_OR_PARTITION'));
    expect(await first).toEqual({ value: null, ageMs: null, failure: 'error' });
    await vi.advanceTimersByTimeAsync(4_999);
    await r.get();
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    void r.get();
    expect(calls).toHaveLength(2);
  });

  it('a caller waits at most waitMs: the last settled reading stands until the read passes its deadline, then it is a timeout', async () => {
    const { read, calls } = controlledRead<number>();
    const outcomes: string[] = [];
    const r = new DeadlineRead(read, { deadlineMs: 2_000, waitMs: 750, freshMs: 5_000, onOutcome: (o) => outcomes.push(o) });
    // No reading yet and a slow first read: the caller is answered at 750 ms with nothing, not a failure.
    const first = r.get();
    await vi.advanceTimersByTimeAsync(749);
    let answered = false;
    void first.then(() => (answered = true));
    await Promise.resolve();
    expect(answered).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await first).toEqual({ value: null, ageMs: null, failure: null });
    calls[0]?.resolve(1);
    await Promise.resolve();
    expect(await r.get()).toEqual({ value: 1, ageMs: 0, failure: null });
    // A later read that takes 1.5 s: callers at 0 and at 1 s are answered within 750 ms with the
    // previous value and its age, the read is still the only one, and nothing counts as failed.
    await vi.advanceTimersByTimeAsync(6_000);
    const slow = r.get();
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(750);
    expect(await slow).toEqual({ value: 1, ageMs: 6_750, failure: null });
    await vi.advanceTimersByTimeAsync(250);
    const second = r.get();
    await vi.advanceTimersByTimeAsync(500);
    calls[1]?.resolve(2);
    expect(await second).toEqual({ value: 2, ageMs: 0, failure: null });
    expect(calls).toHaveLength(2);
    expect(outcomes).toEqual(['ok', 'ok']);
    // A read that hangs: answered at 750 ms as before, and a timeout once the caller's wait reaches its deadline.
    await vi.advanceTimersByTimeAsync(5_000);
    const hung = r.get();
    await vi.advanceTimersByTimeAsync(750);
    expect((await hung).failure).toBeNull();
    await vi.advanceTimersByTimeAsync(1_000);
    const atDeadline = r.get();
    await vi.advanceTimersByTimeAsync(250);
    expect(await atDeadline).toEqual({ value: 2, ageMs: 7_000, failure: 'timeout' });
    expect(outcomes).toEqual(['ok', 'ok', 'timeout']);
  });

  it('gives up on a read pending past abandonMs: the next caller starts another', async () => {
    const { read, calls } = controlledRead<number>();
    const r = new DeadlineRead(read, { deadlineMs: 1_000, freshMs: 60_000, abandonMs: 10_000 });
    void r.get();
    await vi.advanceTimersByTimeAsync(9_999);
    void r.get();
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    void r.get();
    expect(calls).toHaveLength(2);
    // The abandoned read settling late does not overwrite the newer one's result.
    calls[1]?.resolve(2);
    await Promise.resolve();
    calls[0]?.resolve(1);
    await Promise.resolve();
    expect((await r.get()).value).toBe(2);
  });

  it('property: no caller waits past its wait or the deadline, and at most one read is pending at any time', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ gap: fc.integer({ min: 0, max: 3_000 }), takes: fc.integer({ min: 0, max: 8_000 }), fails: fc.boolean() }),
          {
            minLength: 1,
            maxLength: 30,
          },
        ),
        fc.constantFrom(undefined, 1, 750, 2_000),
        async (steps, waitMs) => {
          vi.setSystemTime(1_000_000);
          let pending = 0;
          let maxPending = 0;
          let i = 0;
          const r = new DeadlineRead(
            () => {
              const s = steps[i++ % steps.length] as (typeof steps)[number];
              pending++;
              maxPending = Math.max(maxPending, pending);
              return new Promise<number>((resolve, reject) =>
                setTimeout(() => {
                  pending--;
                  if (s.fails) reject(new Error('x'));
                  else resolve(i);
                }, s.takes),
              );
            },
            { deadlineMs: 2_000, freshMs: 500, ...(waitMs !== undefined && { waitMs }) },
          );
          for (const s of steps) {
            await vi.advanceTimersByTimeAsync(s.gap);
            const asked = Date.now();
            let answeredAt = -1;
            const g = r.get().then(() => (answeredAt = Date.now()));
            await vi.advanceTimersByTimeAsync(2_000);
            await g;
            expect(answeredAt - asked).toBeLessThanOrEqual(waitMs ?? 2_000);
          }
          await vi.advanceTimersByTimeAsync(20_000);
          expect(maxPending).toBe(1);
        },
      ),
      { numRuns: 50 },
    );
  });
});
