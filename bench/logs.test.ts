import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { callSitePatterns, labelMessages } from './log-truth.ts';
import { FIXTURE_DIR, measure, readCorpus } from './logs.ts';

describe('the true template of a log line, from its call site', () => {
  it("reads log and say calls' literal messages; the most specific pattern wins; wordless patterns are not templates", () => {
    const root = mkdtempSync(join(tmpdir(), 'txmon-truth-'));
    mkdirSync(join(root, 'src'));
    writeFileSync(
      join(root, 'src', 'a.ts'),
      [
        "log.info({ n }, 'joined consumer group');",
        'log.warn({ err }, `${what} not ready (${why}); retrying`);',
        'say(`redis not ready (${why}); retrying`);',
        'say(`${a}: ${b}`);',
        'log.info(message);',
      ].join('\n'),
    );
    writeFileSync(join(root, 'src', 'a.test.ts'), "log.info('from a test: not a call site');");
    const patterns = callSitePatterns(root);
    expect(patterns.map((p) => p.text).sort()).toEqual([
      '<*> not ready (<*>); retrying',
      'joined consumer group',
      'redis not ready (<*>); retrying',
    ]);
    expect(
      labelMessages(
        ['redis not ready (ECONNREFUSED); retrying', 'mysql not ready (timeout); retrying', 'joined consumer group', 'Starting'],
        patterns,
      ),
    ).toEqual(['redis not ready (<*>); retrying', '<*> not ready (<*>); retrying', 'joined consumer group', undefined]);
  });
});

describe("Drain on txmon's own logs (tests/fixtures/logs)", () => {
  it('groups at least 95 % of the labelled lines and 80 % of the true templates exactly', () => {
    const files = readdirSync(FIXTURE_DIR)
      .filter((f) => f.endsWith('.log.gz'))
      .map((f) => join(FIXTURE_DIR, f));
    expect(files.length).toBeGreaterThanOrEqual(2);
    const r = measure(readCorpus(files), { speed: false });
    // Most lines come from txmon's own call sites (the rest: kafkajs's messages, multi-line text).
    expect(r.labelled / r.lines).toBeGreaterThan(0.8);
    expect(r.trueTemplates).toBeGreaterThanOrEqual(40);
    expect(r.groupingAccuracy).toBeGreaterThanOrEqual(0.95);
    expect(r.templatesExact).toBeGreaterThanOrEqual(0.8);
  });
});
