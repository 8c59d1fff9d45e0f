import { describe, expect, it } from 'vitest';
import { PartitionClocks, decodeClock, encodeClock, type CommittedOffset } from './partition-clock.ts';

describe('PartitionClocks', () => {
  it('round-trips the clock through offset metadata and ignores foreign metadata', () => {
    expect(decodeClock(encodeClock(1_767_225_600_000))).toBe(1_767_225_600_000);
    expect(encodeClock(Number.NEGATIVE_INFINITY)).toBeNull();
    for (const foreign of [null, '', 'hello', '{"maxEventTime":"x"}', '{"v":2,"maxEventTime":5}']) {
      expect(decodeClock(foreign)).toBe(Number.NEGATIVE_INFINITY);
    }
  });

  it('uses its own clock going forward and the committed one after a move or a rewind', async () => {
    let committed: CommittedOffset | undefined = { offset: '100', metadata: encodeClock(5_000) };
    let fetches = 0;
    const clocks = new PartitionClocks(async () => {
      fetches++;
      return committed;
    });
    expect(clocks.committed('t', 0)).toBeUndefined();
    expect(await clocks.at('t', 0, '100')).toBe(5_000); // first batch after assignment: committed
    expect(clocks.committed('t', 0)).toBe(100n);
    clocks.advance('t', 0, '150', 7_000);
    expect(await clocks.at('t', 0, '150')).toBe(7_000); // next batch: in memory
    expect(clocks.committed('t', 0)).toBe(150n);
    expect(await clocks.at('t', 0, '160')).toBe(7_000); // skipped records in between
    expect(fetches).toBe(1);
    expect(await clocks.at('t', 0, '100')).toBe(5_000); // re-read from the committed offset (a batch retried after a rebalance)
    // A manual seek between commits: the best known clock is the committed one (an approximation).
    expect(await clocks.at('t', 0, '120')).toBe(5_000);
    expect(clocks.committed('t', 0)).toBe(100n);
    // After a rebalance the partition may have moved on under another member: ask Kafka again.
    clocks.advance('t', 0, '150', 7_000);
    committed = { offset: '400', metadata: encodeClock(9_000) };
    clocks.forget();
    expect(await clocks.at('t', 0, '400')).toBe(9_000);
    expect(clocks.committed('t', 0)).toBe(400n);
    // A restore replays from below the committed offset: the committed clock flags what follows it.
    clocks.forget();
    expect(await clocks.at('t', 0, '350')).toBe(9_000);
    expect(clocks.committed('t', 0)).toBe(400n);
    committed = undefined;
    expect(await clocks.at('t', 1, '0')).toBe(Number.NEGATIVE_INFINITY); // never committed
    expect(clocks.committed('t', 1)).toBeUndefined();
  });
});
