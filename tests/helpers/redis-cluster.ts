/**
 * A throwaway Redis Cluster for tests: three masters (redis-server --cluster-enabled yes) on local
 * ports, joined with redis-cli --cluster create, in a temporary directory. Started and stopped by
 * the tests that need it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { sleep } from '../../platform/retry.ts';
import { slowStep } from './slow-step.ts';

export interface TestCluster {
  ports: number[];
  client(): Cluster;
  /** Shuts a node down (no persistence: it comes back empty) and starts it again in its place. */
  restart(port: number): Promise<void>;
  stop(): Promise<void>;
}

function cli(port: number, ...args: string[]): string {
  return execFileSync('redis-cli', ['-p', String(port), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 10_000,
  });
}

function startNode(dir: string, port: number): void {
  execFileSync('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--daemonize',
    'yes',
    '--dir',
    dir,
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    `nodes-${port}.conf`,
    '--save',
    '',
    '--appendonly',
    'no',
    '--logfile',
    join(dir, `${port}.log`),
  ]);
}

export function startCluster(ports = [7101, 7102, 7103]): Promise<TestCluster> {
  return slowStep(`start redis cluster on ${ports.join(',')}`, () => start(ports));
}

async function start(ports: number[]): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'txmon-redis-cluster-'));
  for (const port of ports) {
    try {
      cli(port, 'shutdown', 'nosave'); // a leftover from an interrupted run
    } catch {
      // nothing listening: the usual case
    }
  }
  await sleep(200);
  for (const port of ports) startNode(dir, port);
  for (const port of ports) {
    for (let i = 0; i < 50; i++) {
      try {
        if (cli(port, 'ping').trim() === 'PONG') break;
      } catch {
        // not up yet
      }
      await sleep(100);
    }
  }
  execFileSync(
    'redis-cli',
    ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
    // It waits for the nodes to agree: an error rather than a silent hang if they never do.
    { stdio: 'pipe', timeout: 60_000 },
  );
  for (let i = 0; i < 100 && !cli(ports[0] as number, 'cluster', 'info').includes('cluster_state:ok'); i++) await sleep(100);
  const clients: Cluster[] = [];
  return {
    ports,
    client() {
      const c = new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })));
      clients.push(c);
      return c;
    },
    async restart(port: number) {
      cli(port, 'shutdown', 'nosave');
      await sleep(200);
      startNode(dir, port);
      for (let i = 0; i < 100; i++) {
        try {
          if (cli(port, 'cluster', 'info').includes('cluster_state:ok')) return;
        } catch {
          // not listening yet
        }
        await sleep(100);
      }
      throw new Error(`redis cluster node ${port} did not come back`);
    },
    async stop() {
      for (const c of clients) c.disconnect();
      for (const port of ports) {
        try {
          cli(port, 'shutdown', 'nosave');
        } catch {
          // already gone
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
