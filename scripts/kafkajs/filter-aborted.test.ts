// The fixed read_committed filter (scripts/kafkajs/filterAbortedMessages.cjs, installed over kafkajs's
// own by scripts/patch-kafkajs.js) against what a partition's log means, on random interleavings of
// transactions of several producers, some aborted, read from random fetch offsets; and the one
// installed in node_modules is that one (the start-up check, platform/kafka.ts, asks the same).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertKafkajsFixed } from '../../platform/kafka.ts';

interface Msg {
  offset: string;
  key: Buffer | null;
  isControlRecord: boolean;
  batchContext: { producerId: string; inTransaction: boolean };
  committed?: boolean;
}
type Filter = (x: { messages: Msg[]; abortedTransactions: Array<{ producerId: string; firstOffset: string }> }) => Msg[];

const require = createRequire(import.meta.url);
const fixed = require('./filterAbortedMessages.cjs') as Filter;

/**
 * A partition's log from a schedule of steps: each step is a producer writing a record in its open
 * transaction (opening one if none), or ending it (commit or abort marker). Also the broker's list of
 * aborted transactions, in the order they ended, as a fetch answers it.
 */
function logOf(steps: Array<{ producer: number; end: 'none' | 'commit' | 'abort' }>) {
  const log: Msg[] = [];
  const open = new Map<number, { first: number; records: Msg[] }>();
  const aborted: Array<{ producerId: string; firstOffset: string; marker: number }> = [];
  for (const s of steps) {
    const pid = String(s.producer);
    const tx = open.get(s.producer);
    if (s.end === 'none' || tx === undefined) {
      const m: Msg = {
        offset: String(log.length),
        key: Buffer.from('k'),
        isControlRecord: false,
        batchContext: { producerId: pid, inTransaction: true },
      };
      if (tx === undefined) open.set(s.producer, { first: log.length, records: [m] });
      else tx.records.push(m);
      log.push(m);
      continue;
    }
    const commit = s.end === 'commit';
    for (const m of tx.records) m.committed = commit;
    if (!commit) aborted.push({ producerId: pid, firstOffset: String(tx.first), marker: log.length });
    log.push({
      offset: String(log.length),
      key: Buffer.from([0, 0, 0, commit ? 1 : 0]),
      isControlRecord: true,
      batchContext: { producerId: pid, inTransaction: true },
    });
    open.delete(s.producer);
  }
  // Transactions still open are past the last stable offset: a read_committed fetch stops before them.
  let stable = log.length;
  for (const t of open.values()) stable = Math.min(stable, t.first);
  return { log: log.slice(0, stable), aborted: aborted.filter((a) => Number(a.firstOffset) < stable) };
}

const schedule = fc.array(
  fc.record({ producer: fc.integer({ min: 1, max: 4 }), end: fc.constantFrom('none', 'none', 'commit', 'abort') }),
  { minLength: 1, maxLength: 80 },
);

describe("txmon's read_committed filter of aborted transactions", () => {
  it('passes exactly the committed records, whatever the interleaving and wherever the fetch starts', () => {
    fc.assert(
      fc.property(schedule, fc.nat(), (steps, at) => {
        const { log, aborted } = logOf(steps);
        const from = log.length === 0 ? 0 : at % log.length;
        const fetched = log.slice(from);
        // The broker lists the aborted transactions that overlap the fetch: begun before its end
        // (the last stable offset), ended at or after its start, in the order they ended.
        const overlapping = aborted
          .filter((a) => a.marker >= from)
          .map(({ producerId, firstOffset }) => ({ producerId, firstOffset }));
        const out = fixed({ messages: fetched, abortedTransactions: overlapping }).filter((m) => !m.isControlRecord);
        const want = fetched.filter((m) => !m.isControlRecord && m.committed === true);
        expect(out.map((m) => m.offset)).toEqual(want.map((m) => m.offset));
      }),
      { numRuns: 2_000, seed: 447 },
    );
  });

  it('is the filter installed in node_modules, and kafkajs uses it (the processors’ start-up check)', () => {
    expect(readFileSync(require.resolve('kafkajs/src/consumer/filterAbortedMessages.js'), 'utf8')).toBe(
      readFileSync(new URL('./filterAbortedMessages.cjs', import.meta.url), 'utf8'),
    );
    expect(() => assertKafkajsFixed()).not.toThrow();
  });
});
