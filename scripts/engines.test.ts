/**
 * The Node lines txmon runs on: 20, 22 and 24 (issue 18). `engines` admits each line's floor and no
 * line it was not tested on, and no dependency in the lock file refuses 22 or 24. On 20 a few
 * declare a higher floor and are proved by the whole suite running there (docs/operations.md,
 * "Node.js versions"): they are listed here, so a new one is a decision, not a surprise.
 */
import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as {
  packages: Record<string, { dev?: boolean; engines?: { node?: string } | string[] }>;
};

/** The floor of each supported line (vite needs 20.19 on 20; @apidevtools/swagger-parser 22.19 on 22). */
const LINES = ['20.19.0', '22.19.0', '24.0.0'];

/** Production dependencies that declare Node ≥ 22 and run on 20 all the same (the suite proves it). */
const ABOVE_20 = ['@kafkajs/confluent-schema-registry', 'content-disposition', 'cookie'];

function declared(): Array<{ name: string; dev: boolean; range: string }> {
  return Object.entries(lock.packages).flatMap(([at, m]) => {
    const range = Array.isArray(m.engines) ? undefined : m.engines?.node;
    return at === '' || range === undefined ? [] : [{ name: at.replace(/^.*node_modules\//, ''), dev: m.dev === true, range }];
  });
}

describe('Node versions', () => {
  it('engines admits Node 20, 22 and 24 from their floors, and nothing untested', () => {
    const range = pkg.engines.node;
    for (const v of LINES) expect(semver.satisfies(v, range), `${v} in ${range}`).toBe(true);
    for (const v of ['18.20.0', '20.18.0', '21.7.0', '22.18.0', '23.11.0', '25.0.0'])
      expect(semver.satisfies(v, range), `${v} in ${range}`).toBe(false);
  });

  it('no locked production dependency refuses Node 22 or 24; on 20 only the listed ones do', () => {
    // devDependencies are proved where they run: the whole suite on 20, CI's newest 22.x and 24.x.
    const prod = declared().filter((d) => !d.dev);
    const refusing = (v: string) =>
      prod
        .filter((d) => !semver.satisfies(v, d.range))
        .map((d) => d.name)
        .sort();
    expect(refusing('24.0.0')).toEqual([]);
    expect(refusing('22.19.0')).toEqual([]);
    expect(refusing('20.19.0')).toEqual(ABOVE_20);
  });
});
