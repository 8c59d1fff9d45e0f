// The processor on a Redis Cluster (three masters, started here): the same end state as on one
// Redis after SIGKILLs mid-stream and after a replay from the earliest offset, and a master that
// loses its data on its own is noticed through its own marker and the windows rebuilt.
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSlot } from '../../platform/keys.ts';
import { markerKeys } from '../../state/marker.ts';
import { createNamespace, type TestNamespace } from '../helpers/namespace.ts';
import {
  expectEndStateOf,
  killAtRandomPoints,
  produceSimulated,
  readEndState,
  replayFromEarliest,
  spawnIngest,
  type Simulated,
} from '../helpers/pipeline.ts';
import { startCluster, type TestCluster } from '../helpers/redis-cluster.ts';
import { checkStateAgainstMysql } from '../helpers/state-check.ts';

const PORTS = [7111, 7112, 7113];
let cluster: TestCluster;
let client: Cluster;
let ns: TestNamespace;
let sim: Simulated;

beforeAll(async () => {
  cluster = await startCluster(PORTS);
  client = cluster.client();
  ns = await createNamespace({
    TXMON_REDIS_CLUSTER_NODES: PORTS.map((p) => `127.0.0.1:${p}`).join(','),
    TXMON_INGEST_MAX_BYTES_PER_PARTITION: '16384',
  });
  sim = await produceSimulated(ns, { seed: 31, count: 8_000 });
});
afterAll(async () => {
  await ns?.cleanup();
  await cluster?.stop();
});

async function expectExactEndState(): Promise<void> {
  expectEndStateOf(await readEndState(ns), sim);
  const check = await checkStateAgainstMysql(ns);
  expect(check.entities).toBeGreaterThan(100);
  expect(check.mismatches.slice(0, 10)).toEqual([]);
}

describe('ingest on a Redis Cluster', () => {
  it('keeps its state on every master, each with its own marker', async () => {
    await client.ping();
    const markers = markerKeys(client, ns.cfg.keyPrefix);
    expect(markers).toHaveLength(3);
    expect(new Set(markers.map((k) => client.slots[hashSlot(k)]?.[0])).size).toBe(3);
  });

  it('SIGKILL at random points loses nothing and doubles nothing', async () => {
    expect(await killAtRandomPoints(ns, 3)).toBeGreaterThan(0);
    const final = spawnIngest(ns);
    expect(await final.exited, final.output().slice(-6000)).toBe(0);
    await expectExactEndState();
    // Every master holds state of the namespace (the keys spread over the cluster).
    for (const node of client.nodes('master'))
      expect((await node.scan('0', 'MATCH', `${ns.cfg.keyPrefix}:g*`, 'COUNT', 10_000))[1].length).toBeGreaterThan(0);
  });

  it('a replay from the earliest offset changes nothing', async () => {
    await replayFromEarliest(ns);
    // (dead letters are written again after a manual reset, as documented; Redis is unchanged)
    expect((await checkStateAgainstMysql(ns)).mismatches.slice(0, 10)).toEqual([]);
  });

  it('one master losing its data is noticed by its own marker; the windows are rebuilt', async () => {
    const victim = client.nodes('master')[1];
    if (!victim) throw new Error('no second master');
    await victim.flushall();
    expect((await checkStateAgainstMysql(ns)).mismatches.length).toBeGreaterThan(0);
    // More traffic (new transactions, later), so the processor has batches to notice it with.
    await produceSimulated(ns, { seed: 32, count: 3_000, startTime: Date.parse('2026-01-01T00:30:00Z') });
    const run = spawnIngest(ns);
    expect(await run.exited, run.output().slice(-6000)).toBe(0);
    expect(run.output()).toMatch(/state was lost and has been rebuilt from MySQL/);
    const check = await checkStateAgainstMysql(ns);
    expect(check.mismatches.slice(0, 10)).toEqual([]);
    expect((await readEndState(ns)).lag).toBe(0);
  });
});
