import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createTolerate, TOLERATED } from './tolerated.ts';

function harness() {
  const lines: Array<{ level: number; msg: string; reason: string; partition?: number }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as (typeof lines)[number]);
      done();
    },
  });
  const registry = new Registry();
  let t = 1_000_000;
  const tolerate = createTolerate(registry, pino({ level: 'info' }, sink), { now: () => t, quietMs: 60_000 });
  const count = async (reason: string) =>
    (await registry.getSingleMetric('txmon_tolerated_failures_total')?.get())?.values.find((v) => v.labels.reason === reason)
      ?.value;
  return { lines, registry, tolerate, count, advance: (ms: number) => (t += ms) };
}

describe('tolerated failures', () => {
  it('counts every failure by reason and logs it with what the process does about it', async () => {
    const h = harness();
    h.tolerate('recon-gauges', new Error('connection refused'), { partition: 3 });
    expect(await h.count('recon-gauges')).toBe(1);
    expect(h.lines).toHaveLength(1);
    expect(h.lines[0]).toMatchObject({ level: 40, reason: 'recon-gauges', partition: 3 });
    expect(h.lines[0]?.msg).toBe(`connection refused: ${TOLERATED['recon-gauges']}`);
  });

  it('exports every reason at zero from the start, so a rate() over it has a series before the first failure', async () => {
    const h = harness();
    for (const reason of Object.keys(TOLERATED)) expect(await h.count(reason)).toBe(0);
  });

  it('logs a repeating reason once a minute with how many came between; the counter counts them all', async () => {
    const h = harness();
    for (let i = 0; i < 5; i++) {
      h.tolerate('model-registry-read', new Error('timeout'));
      h.advance(10_000);
    }
    h.tolerate('teardown-step', new Error('other'));
    expect(h.lines.map((l) => l.reason)).toEqual(['model-registry-read', 'teardown-step']);
    h.advance(20_000);
    h.tolerate('model-registry-read', new Error('timeout'));
    expect(h.lines).toHaveLength(3);
    expect(h.lines[2]?.msg).toMatch(/\(4 more since the last report\)$/);
    expect(await h.count('model-registry-read')).toBe(6);
  });

  it('logs the same reason with another context (another partition) as a fact of its own', async () => {
    const h = harness();
    h.tolerate('partition-check', new Error('timeout'), { partition: 1 });
    h.tolerate('partition-check', new Error('timeout'), { partition: 2 });
    h.tolerate('partition-check', new Error('timeout'), { partition: 1 });
    expect(h.lines.map((l) => l.partition)).toEqual([1, 2]);
    expect(await h.count('partition-check')).toBe(3);
  });

  it('shares one counter when two callers create it on the same registry', async () => {
    const h = harness();
    const second = createTolerate(h.registry, pino({ level: 'silent' }));
    second('producer-close', new Error('x'));
    h.tolerate('producer-close', new Error('y'));
    expect(await h.count('producer-close')).toBe(2);
  });
});
