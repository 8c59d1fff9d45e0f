import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  groupingAccuracy,
  LogTemplateMiner,
  messageOf,
  templateText,
  tokenize,
  validateDrainOptions,
  WILDCARD,
} from './log-templates.ts';

describe('tokenize (masking)', () => {
  it('masks numbers (with their unit), ids, key=value values, UUIDs, IPs, hex and times', () => {
    expect(tokenize('consumed 1,234 records in 2.5 s = 493.6 records/s')).toEqual(
      'consumed <NUM> records in <NUM> s = <NUM> records/s'.split(' '),
    );
    expect(tokenize('batch took 250ms (12%) partition=3, offset=1204.')).toEqual(
      'batch took <NUM>ms (<NUM>%) partition=<NUM>, offset=<NUM>.'.split(' '),
    );
    expect(tokenize('model if-20261206T194931Z-c194954e active for acct-000123')).toEqual(
      'model <ID> active for <ID>'.split(' '),
    );
    expect(tokenize('member 94b9a553-bd83-49cf-8ebb-cf9ea2cf1e7c from 10.0.0.12:9092 at 2026-12-06T19:49:43.353Z')).toEqual(
      'member <UUID> from <IP> at <TIME>'.split(' '),
    );
    expect(tokenize('pointer 0xdeadbeef')).toEqual(['pointer', '<HEX>']);
    // A card number in free text is a number like any other: it never reaches a template.
    expect(tokenize('card 4111111111111111 declined')).toEqual(['card', '<NUM>', 'declined']);
  });

  it('keeps words, punctuation and empty messages as they are', () => {
    expect(tokenize('  joined consumer group  ')).toEqual(['joined', 'consumer', 'group']);
    expect(tokenize('')).toEqual([]);
  });
});

describe('messageOf', () => {
  it("takes a JSON log line's msg, and any other line whole", () => {
    expect(messageOf('{"level":30,"time":1,"msg":"ingest running"}')).toBe('ingest running');
    expect(messageOf('{"level":30,"time":1}')).toBe('{"level":30,"time":1}');
    expect(messageOf('{not json}')).toBe('{not json}');
    expect(messageOf('2026-12-06 kernel: eth0 up')).toBe('2026-12-06 kernel: eth0 up');
  });
});

describe('LogTemplateMiner (Drain)', () => {
  it('groups messages of one event whatever their parameters, and keeps other events apart', () => {
    const m = new LogTemplateMiner();
    const a = m.add('redis not ready (connect ECONNREFUSED 127.0.0.1:6379); retrying');
    const b = m.add('mysql not ready (Connection lost: The server closed the connection.); retrying');
    const c = m.add('reconcile: 120 records processed, 880 to go');
    const d = m.add('reconcile: 1,000 records processed, 0 to go');
    const e = m.add('joined consumer group');
    expect(c.id).toBe(d.id);
    expect(templateText(d)).toBe('reconcile: <NUM> records processed, <NUM> to go');
    expect(new Set([a.id, c.id, e.id]).size).toBe(3);
    // Same length, few equal tokens (< 40 %): two templates, the paper's behaviour.
    expect(b.id).not.toBe(a.id);
    expect(m.templates().map((t) => t.count)).toEqual([1, 1, 2, 1]);
  });

  it('turns the positions that differ into wildcards', () => {
    const m = new LogTemplateMiner();
    m.add('state of partition seven restored from checkpoint');
    const t = m.add('state of partition eight restored from replay');
    expect(templateText(t)).toBe(`state of partition ${WILDCARD} restored from ${WILDCARD}`);
  });

  it('routes tokens beyond maxChildren through one wildcard child and still groups', () => {
    const m = new LogTemplateMiner({ maxChildren: 2 });
    const ids = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'].map((w) => m.add(`${w} started on node one`).id);
    // alpha takes the one literal slot; the rest share the wildcard child, where they meet.
    expect(ids[0]).toBe(1);
    expect(new Set(ids.slice(1)).size).toBe(1);
    expect(m.add('alpha started on node one').id).toBe(1);
  });

  it('refuses parameters outside their ranges, naming them', () => {
    expect(() => validateDrainOptions({ depth: 2, similarity: 0.4, maxChildren: 100 })).toThrow(/depth/);
    expect(() => validateDrainOptions({ depth: 4, similarity: 0, maxChildren: 100 })).toThrow(/similarity/);
    expect(() => validateDrainOptions({ depth: 4, similarity: 0.4, maxChildren: 1 })).toThrow(/maxChildren/);
  });

  it('property: every message fits its template at the end (same length; each token equal or a wildcard)', () => {
    const word = fc.constantFrom('ingest', 'batch', 'failed', 'retrying', 'redis', 'in', 'ms', 'partition', 'ok', 'to');
    const token = fc.oneof(
      word,
      fc.integer({ min: 0, max: 99_999 }).map(String),
      fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 8, maxLength: 8 }),
    );
    const message = fc.array(token, { minLength: 0, maxLength: 9 }).map((ts) => ts.join(' '));
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 200 }),
        fc.record({
          depth: fc.integer({ min: 3, max: 6 }),
          similarity: fc.double({ min: 0.05, max: 1, noNaN: true }),
          maxChildren: fc.integer({ min: 2, max: 6 }),
        }),
        (messages, opts) => {
          const m = new LogTemplateMiner(opts);
          const ids = messages.map((msg) => m.add(msg).id);
          const templates = m.templates();
          messages.forEach((msg, i) => {
            const tokens = tokenize(msg);
            const t = templates[(ids[i] as number) - 1]?.tokens ?? [];
            expect(t.length).toBe(tokens.length);
            t.forEach((tok, k) => expect(tok === WILDCARD || tok === tokens[k]).toBe(true));
          });
          expect(templates.reduce((n, t) => n + t.count, 0)).toBe(messages.length);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('groupingAccuracy', () => {
  it('counts a line right only when its predicted group is exactly its true group', () => {
    // Truth: A A B B C. Predicted: 1 1 2 3 3 → A's group exact (2 lines); B split, C merged with B.
    expect(groupingAccuracy(['A', 'A', 'B', 'B', 'C'], [1, 1, 2, 3, 3])).toBeCloseTo(2 / 5);
    expect(groupingAccuracy(['A', undefined, 'B'], [1, 1, 2])).toBe(1);
    expect(groupingAccuracy([undefined], [1])).toBe(0);
  });

  it('property: equals the definition computed line by line', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.option(fc.constantFrom('a', 'b', 'c', 'd'), { nil: undefined }), fc.integer({ min: 1, max: 4 })), {
          maxLength: 60,
        }),
        (rows) => {
          const truth = rows.map((r) => r[0]);
          const pred = rows.map((r) => r[1]);
          const labelled = rows.map((_, i) => i).filter((i) => truth[i] !== undefined);
          const same = (a: number[], b: number[]) => a.length === b.length && a.every((x, k) => x === b[k]);
          const right = labelled.filter((i) =>
            same(
              labelled.filter((j) => pred[j] === pred[i]),
              labelled.filter((j) => truth[j] === truth[i]),
            ),
          ).length;
          expect(groupingAccuracy(truth, pred)).toBeCloseTo(labelled.length === 0 ? 0 : right / labelled.length, 12);
        },
      ),
    );
  });
});
