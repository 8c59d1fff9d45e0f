// End to end: 20,000 simulated events with ~3% duplicates and ~1% malformed, through a real
// `txmon run ingest --drain` process, against the real broker, registry, MariaDB and Redis.
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stateMarkerKey } from '../../platform/keys.ts';
import { STATE_LAYOUT } from '../../state/marker.ts';
import { containsPan, looksLikePan } from '../../domain/pan.ts';
import { createNamespace, type TestNamespace } from '../helpers/namespace.ts';
import { checkStateAgainstMysql, featureCoverage } from '../helpers/state-check.ts';
import {
  countByClass,
  expectedEndState,
  produceSimulated,
  readEndState,
  replayFromEarliest,
  spawnIngest,
  type Simulated,
} from '../helpers/pipeline.ts';

let ns: TestNamespace;
let sim: Simulated;

beforeAll(async () => {
  ns = await createNamespace();
  sim = await produceSimulated(ns, { seed: 7, count: 12_000, duplicateRate: 0.05, malformedRate: 0.015 });
});
afterAll(async () => {
  await ns?.cleanup();
});

describe('ingest end to end', () => {
  it('lands exactly the unique valid transactions, dead-letters exactly the malformed ones, lag 0', async () => {
    expect(sim.summary.duplicates).toBeGreaterThan(400);
    expect(sim.summary.bad_bytes + sim.summary.unknown_schema + sim.summary.invalid).toBeGreaterThan(100);

    const run = spawnIngest(ns);
    const code = await run.exited;
    expect(code, run.output()).toBe(0);

    const state = await readEndState(ns);
    const want = expectedEndState(sim);
    expect(state.transactionIds.length).toBe(sim.summary.valid_unique);
    expect(state.transactionIds).toEqual(want.transactionIds);
    expect(state.duplicateIds).toEqual(want.duplicateIds);
    expect(state.lateIds).toEqual(want.lateIds);
    expect(state.deadLetters.length).toBe(want.deadLetterCount);
    expect(new Set(state.deadLetters.map((d) => d.source)).size).toBe(state.deadLetters.length);
    const byClass = countByClass(state.deadLetters);
    expect(byClass.UNKNOWN_SCHEMA_ID ?? 0).toBe(sim.summary.unknown_schema);
    expect(byClass.DECODE_FAILED ?? 0).toBe(sim.summary.bad_bytes);
    expect((byClass.VALIDATION_FAILED ?? 0) + (byClass.PAN_DETECTED ?? 0)).toBe(sim.summary.invalid);
    for (const d of state.deadLetters) expect(d.errorMessage.length).toBeGreaterThan(5);
    expect(state.lag).toBe(0);
    // Enriched and windowed: every row has its snapshot, and Redis agrees with MySQL.
    const check = await checkStateAgainstMysql(ns);
    expect(check.entities).toBeGreaterThan(100);
    expect(check.mismatches.slice(0, 10)).toEqual([]);
    const coverage = await featureCoverage(ns);
    expect(coverage).toMatchObject({
      rows: sim.summary.valid_unique,
      withFeatures: sim.summary.valid_unique,
      withBaseAmount: sim.summary.valid_unique,
      withAccountAge: sim.summary.valid_unique,
      withBinCountry: sim.summary.valid_unique,
    });
    // Cards used abroad (and foreign-issued cards) show up as BIN-country mismatches, not all rows.
    expect(coverage.binMismatches).toBeGreaterThan(0);
    expect(coverage.binMismatches).toBeLessThan(coverage.rows);

    // PII: a record carrying a card number is dead-lettered redacted, and no log line carries one.
    for (const d of state.deadLetters.filter((x) => x.errorClass === 'PAN_DETECTED')) {
      expect(d.redacted).toBe(true);
      // A card number as the scanner sees one (13-19 digits passing Luhn, separators allowed), not
      // any digit run: an id's hex may hold 13 digits in a row by chance (seen: idem-…8581052273442).
      expect(containsPan(d.originalValue?.toString('latin1') ?? '')).toBe(false);
    }
    // (pino's epoch-ms "time" field is 13 digits and sometimes Luhn-valid: it is not card data)
    const digitRuns =
      run
        .output()
        .replace(/"time":\d+/g, '')
        .match(/\d{13,19}/g) ?? [];
    expect(digitRuns.filter(looksLikePan)).toEqual([]);
  });

  it('re-running after a group offset reset changes nothing (replay is idempotent)', async () => {
    const { before, after } = await replayFromEarliest(ns);
    // The DLQ is written transactionally per batch, so a full replay appends the same letters again
    // only if offsets were reset: here they were, so each source position appears exactly twice.
    const counts = new Map<string, number>();
    for (const d of after.deadLetters) counts.set(d.source, (counts.get(d.source) ?? 0) + 1);
    expect([...counts.values()].every((n) => n === 2)).toBe(true);
    expect(counts.size).toBe(before.deadLetters.length);
    expect(after.lag).toBe(0);
    // Nothing applied twice to the windows either.
    const check = await checkStateAgainstMysql(ns);
    expect(check.mismatches.slice(0, 10)).toEqual([]);
  });

  it('`txmon state rebuild` rebuilds the windows from MySQL; `txmon state status` reports the marker', async () => {
    const txmon = (...args: string[]) =>
      spawnSync(process.execPath, ['bin/txmon.js', ...args], {
        cwd: new URL('../../', import.meta.url).pathname,
        env: { ...process.env, ...ns.env },
        encoding: 'utf8',
      });
    const redis = new Redis(ns.cfg.redisUrl);
    try {
      // After ingest, the marker knows how far each partition's state went (what lost writes are checked against).
      const before = txmon('state', 'status');
      expect(before.status, before.stderr).toBe(0);
      expect(before.stderr).toMatch(/[1-9]\d* partition\(s\) applied: .*txmon\.transactions\.v1\/\d+ up to offset [1-9]/);
      expect(before.stderr).toMatch(/state: eviction (no memory limit|maxmemory \d+ bytes, noeviction)/);
      // An evicting Redis would drop windows unnoticed: status says so.
      const [, maxmemory] = (await redis.config('GET', 'maxmemory')) as string[];
      const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as string[];
      try {
        await redis.config('SET', 'maxmemory', '8gb');
        await redis.config('SET', 'maxmemory-policy', 'volatile-lru');
        expect(txmon('state', 'status').stderr).toMatch(/WARNING maxmemory-policy volatile-lru/);
      } finally {
        await redis.config('SET', 'maxmemory', maxmemory ?? '0');
        await redis.config('SET', 'maxmemory-policy', policy ?? 'noeviction');
      }
      // Lose part of the state by hand: the rebuild must restore it from MySQL.
      const some = (await redis.keys(`${ns.cfg.keyPrefix}:g*:{c:*`)).slice(0, 50);
      expect(some.length).toBeGreaterThan(0);
      await redis.del(...some);
      expect((await checkStateAgainstMysql(ns)).mismatches.length).toBeGreaterThan(0);
      const rebuild = txmon('state', 'rebuild');
      expect(rebuild.status, rebuild.stdout + rebuild.stderr).toBe(0);
      expect(rebuild.stderr).toMatch(/state: done: \d+ transactions since/);
      const check = await checkStateAgainstMysql(ns);
      expect(check.mismatches.slice(0, 10)).toEqual([]);
      const status = txmon('state', 'status');
      expect(status.status, status.stderr).toBe(0);
      expect(status.stderr).toMatch(/marker present/);
      // The rebuilt marker starts from the group's committed offsets: what the batches had recorded.
      const applied = (out: string) =>
        [...out.matchAll(/txmon\.transactions\.v1\/\d+ up to offset \d+/g)].map((m) => m[0]).sort();
      expect(applied(status.stderr).length).toBeGreaterThan(0);
      expect(applied(status.stderr)).toEqual(applied(before.stderr));
      await redis.del(stateMarkerKey(ns.cfg.keyPrefix));
      const missing = txmon('state', 'status');
      expect(missing.status).toBe(1);
      expect(missing.stderr).toMatch(/marker MISSING/);
      // A marker written by a txmon of an older state layout (no "layout": 3) is not intact either.
      await redis.set(stateMarkerKey(ns.cfg.keyPrefix), JSON.stringify({ rebuiltAt: '2026-01-01T00:00:00Z', rows: 1 }));
      // ... and its keys (layout 1: entity keys straight under the prefix) are deleted by the rebuild.
      const legacy = `${ns.cfg.keyPrefix}:{a:legacy-account}:st`;
      await redis.hset(legacy, 'h', '1');
      await redis.expire(legacy, 3600);
      const old = txmon('state', 'status');
      expect(old.status).toBe(1);
      expect(old.stderr).toMatch(/marker of an older state layout/);
      expect(txmon('state', 'rebuild').status).toBe(0);
      expect(await redis.exists(legacy)).toBe(0);
      expect(JSON.parse((await redis.hget(stateMarkerKey(ns.cfg.keyPrefix), 'meta')) ?? '{}')).toMatchObject({
        layout: STATE_LAYOUT,
      });
      expect((await checkStateAgainstMysql(ns)).mismatches.slice(0, 10)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});
