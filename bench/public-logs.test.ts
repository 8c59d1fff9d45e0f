import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  HUE_DIR,
  HUE_SETS,
  measurePublic,
  measureSet,
  readHueSet,
  similaritySweep,
  SWEEP,
  type PublicSetResult,
} from './public-logs.ts';

const text = (file: string): string => gunzipSync(readFileSync(join(HUE_DIR, file))).toString('utf8');

describe('the public labelled log sets (tests/fixtures/public/hue)', () => {
  it('reads every message with its label, the header off and its lines joined, counted as the files count them', () => {
    for (const set of HUE_SETS) {
      const messages = readHueSet(HUE_DIR, set);
      const lines = text(`${set.name}_2k_flatten.log.gz`).split('\n').filter(Boolean);
      const labels = text(`${set.name}_2k.log_structured_flatten.csv.gz`).split('\n').filter(Boolean).slice(1);
      expect(messages).toHaveLength(lines.length);
      expect(messages.map((m) => m.label)).toEqual(labels.map((l) => l.trim()));
      expect(messages.filter((m) => m.kind === 'single-line')).toHaveLength(labels.filter((l) => l.startsWith('s')).length);
      for (const [i, m] of messages.entries()) {
        expect(m.content).not.toContain('/n');
        expect(set.header.test(m.content)).toBe(false);
        // The raw form is the content behind its header.
        expect(m.raw.endsWith(m.content)).toBe(true);
        expect(lines[i]?.startsWith(m.raw.slice(0, m.raw.length - m.content.length).trimEnd())).toBe(true);
      }
    }
  });

  it('refuses files that do not fit together, naming the file and line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'txmon-hue-'));
    const set = { name: 'X', header: /^\[\d+\] / };
    const write = (log: string, labels: string): void => {
      writeFileSync(join(dir, 'X_2k_flatten.log.gz'), gzipSync(log));
      writeFileSync(join(dir, 'X_2k.log_structured_flatten.csv.gz'), gzipSync(labels));
    };
    write('[1] a b/n\n[2] c/n\n', 'EventId\ns1\n');
    expect(() => readHueSet(dir, set)).toThrow(/2 messages in .* but 1 labels/);
    write('[1] a b/n\nno header/n\n', 'EventId\ns1\ns2\n');
    expect(() => readHueSet(dir, set)).toThrow(/line 2 does not start with X's header/);
    write('[1] a b/n\n', 'EventId\nx1\n');
    expect(() => readHueSet(dir, set)).toThrow(/line 2: label "x1"/);
    write('[1] a b/n\n', 'Id\ns1\n');
    expect(() => readHueSet(dir, set)).toThrow(/header EventId/);
    write('[1] a  b/nsecond line/n\n', 'EventId\nm1\n');
    expect(readHueSet(dir, set)).toEqual([
      { content: 'a  b second line', raw: '[1] a  b second line', label: 'm1', kind: 'multi-line' },
    ]);
  });
});

describe('Drain on the public labelled sets', () => {
  let results: PublicSetResult[] = [];
  beforeAll(() => {
    results = measurePublic();
  });
  const find = (set: string, view: 'single-line' | 'all', settings: PublicSetResult['settings'], input = 'content') =>
    results.find((r) => r.set === set && r.view === view && r.input === input && r.settings === settings);

  it("gives the figures docs/log-analysis.md reports: the defaults', the raw lines', the authors' settings' and the best of the sweep", () => {
    const got = (set: string, view: 'single-line' | 'all', settings: PublicSetResult['settings'], input = 'content') => {
      const r = find(set, view, settings, input);
      return r && [Math.round(r.groupingAccuracy * 1000) / 10, r.depth, r.similarity];
    };
    expect(got('CTS', 'single-line', 'defaults')).toEqual([32.6, 4, 0.4]);
    expect(got('CTS', 'single-line', 'defaults', 'raw')).toEqual([34.1, 4, 0.4]);
    expect(got('CTS', 'all', 'defaults')).toEqual([45.8, 4, 0.4]);
    expect(got('CTS', 'all', 'authors')).toEqual([59.9, 4, 0.65]);
    expect(got('CTS', 'single-line', 'tuned')).toEqual([89.8, 4, 0.9]);
    expect(got('CTS', 'all', 'tuned')).toEqual([86.4, 6, 0.9]);
    expect(got('HiBench', 'single-line', 'defaults')).toEqual([50.1, 4, 0.4]);
    expect(got('HiBench', 'single-line', 'defaults', 'raw')).toEqual([54.4, 4, 0.4]);
    expect(got('HiBench', 'all', 'defaults')).toEqual([24.9, 4, 0.4]);
    expect(got('HiBench', 'all', 'authors')).toEqual([41.3, 4, 0.6]);
    expect(got('HiBench', 'single-line', 'tuned')).toEqual([90.0, 3, 0.6]);
    expect(got('HiBench', 'all', 'tuned')).toEqual([43.6, 3, 0.6]);
  });

  it('never tunes below the defaults (the sweep holds them) and scores within [0, 1]', () => {
    for (const r of results) {
      expect(r.groupingAccuracy).toBeGreaterThanOrEqual(0);
      expect(r.groupingAccuracy).toBeLessThanOrEqual(1);
      if (r.settings === 'tuned')
        expect(r.groupingAccuracy).toBeGreaterThanOrEqual(find(r.set, r.view, 'defaults')?.groupingAccuracy ?? 1);
    }
  });

  it('counts the messages and true templates of a view as its labels count them', () => {
    const messages = readHueSet(HUE_DIR, HUE_SETS[0] as (typeof HUE_SETS)[number]);
    const r = measureSet('CTS', messages, 'single-line', 'content', { depth: 4, similarity: 1 });
    const single = messages.filter((m) => m.kind === 'single-line');
    expect(r.messages).toBe(single.length);
    expect(r.trueTemplates).toBe(new Set(single.map((m) => m.label)).size);
    expect(r.groupingAccuracy).toBeGreaterThan(0);
    expect(r.groupingAccuracy).toBeLessThanOrEqual(1);
  });

  it('sweeps the similarity for every corpus, one row per threshold', () => {
    const rows = similaritySweep({ messages: ['a 1', 'a 2', 'b c'], truth: ['a', 'a', 'b'] });
    expect(rows).toHaveLength(SWEEP.similarity.length);
    expect(rows[0]).toMatch(/^similarity 0\.3: txmon's own 100\.0 %, CTS \d+\.\d %, HiBench \d+\.\d %$/);
  });
});
