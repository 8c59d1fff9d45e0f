// Dependency outage: stop Redis (kept by AOF, then lost), then MariaDB, mid-stream; the processor pauses,
// readiness goes red, and after the dependency returns the end state equals the ground truth.
import { execSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../platform/kafka.ts';
import { sleep } from '../../platform/retry.ts';
import { groupLag } from '../helpers/lag.ts';
import { topicName } from '../../topics/topics.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';
import { checkStateAgainstMysql } from '../helpers/state-check.ts';
import { expectedEndState, produceSimulated, readEndState, spawnIngest, type Simulated } from '../helpers/pipeline.ts';

const namespaces: TestNamespace[] = [];

/** The machine's Redis command line, with the AOF that `txmon services up` turns on. */
const REDIS_START =
  'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly yes --appendfsync always --dir /var/lib/redis --logfile /var/log/redis/ci.log';
/** The same without persistence and in an empty directory: a Redis that comes back empty. */
const REDIS_START_EMPTY = `redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir ${mkdtempSync(join(tmpdir(), 'txmon-redis-empty-'))} --logfile /var/log/redis/ci.log`;
/** Stopping and restarting MariaDB after a long test run (InnoDB flushing, recovery) can take a while. */
const OUTAGE_TIMEOUT_MS = 300_000;
const MARIADB_START = 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd';

async function waitFor(check: () => boolean, timeoutMs: number, what = 'a condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}
const redisUp = () => {
  try {
    return execSync('redis-cli -p 6379 ping', { stdio: 'pipe' }).toString().trim() === 'PONG';
  } catch {
    return false;
  }
};
const mariadbUp = () => {
  try {
    execSync('mariadb -uroot -h127.0.0.1 -e "SELECT 1"', { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
};

async function readyStatus(port: number): Promise<number> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
  } catch {
    return -1;
  }
}

function probePort(output: string): number | null {
  const m = /"url":"http:\/\/127\.0\.0\.1:(\d+)\/metrics"/.exec(output);
  return m ? Number(m[1]) : null;
}

afterAll(async () => {
  if (!redisUp()) execSync(REDIS_START);
  if (!mariadbUp()) execSync(MARIADB_START);
  await waitFor(() => redisUp() && mariadbUp(), 60_000);
  for (const ns of namespaces) await ns.cleanup();
});

async function outageRun(seed: number, stop: () => void, start: () => void, isUp: () => boolean) {
  // Small batches, one partition at a time: the stream takes long enough to stop a dependency mid-way.
  const ns = await createNamespace({ TXMON_INGEST_MAX_BYTES_PER_PARTITION: '8192', TXMON_INGEST_CONCURRENCY: '1' });
  namespaces.push(ns);
  const sim: Simulated = await produceSimulated(ns, { seed, count: 5_000 });
  const topic = topicName(ns.cfg.topicNamespace, 'transactions');
  const admin = createKafka(ns.cfg, testLogger).admin();
  await admin.connect();
  const total = await groupLag(admin, ns.cfg.ingest.groupId, topic);
  const run = spawnIngest(ns, ['--drain']);
  await waitFor(() => probePort(run.output()) !== null, 30_000, 'the ingest probe port');
  const port = probePort(run.output()) as number;
  // Stop the dependency once the first batches are committed: mid-stream, with most still to do.
  for (let lag = total; lag >= total; lag = await groupLag(admin, ns.cfg.ingest.groupId, topic)) await sleep(20);
  stop();
  const lagAtStop = await groupLag(admin, ns.cfg.ingest.groupId, topic);
  await waitFor(() => !isUp(), 60_000, 'the dependency to stop');
  // Readiness goes red while the dependency is down.
  let sawRed = false;
  for (let i = 0; i < 40 && !sawRed; i++) {
    sawRed = (await readyStatus(port)) === 503;
    await sleep(250);
  }
  await sleep(3_000);
  start();
  await waitFor(isUp, 90_000, 'the dependency to come back');
  // Bounded, so a hang fails with the processor's own output instead of the test's timeout.
  const code = await Promise.race([run.exited, sleep(120_000).then(() => 'hung' as const)]);
  if (code === 'hung') run.child.kill('SIGKILL');
  expect(code, run.output().slice(-6000)).toBe(0);
  await admin.disconnect();
  expect(lagAtStop).toBeGreaterThan(0);
  expect(run.output()).toMatch(/batch paused/);
  const state = await readEndState(ns);
  const want = expectedEndState(sim);
  expect(state.transactionIds).toEqual(want.transactionIds);
  expect(state.duplicateIds).toEqual(want.duplicateIds);
  expect(state.lateIds).toEqual(want.lateIds);
  expect(new Set(state.deadLetters.map((d) => d.source)).size).toBe(want.deadLetterCount);
  expect(state.deadLetters.length).toBe(want.deadLetterCount);
  expect(state.lag).toBe(0);
  const check = await checkStateAgainstMysql(ns);
  expect(check.mismatches.slice(0, 10)).toEqual([]);
  return { sawRed, output: run.output() };
}

describe('dependency outage', () => {
  it(
    'Redis down for seconds mid-stream: pauses, goes unready, resumes, same end state',
    async () => {
      // Redis runs with AOF (fsync always), so a plain shutdown and restart keeps the state.
      const { sawRed, output } = await outageRun(
        21,
        () => execSync('redis-cli -p 6379 shutdown nosave || true', { stdio: 'pipe' }),
        () => execSync(REDIS_START),
        redisUp,
      );
      expect(sawRed).toBe(true);
      expect(output).not.toMatch(/state was lost/);
    },
    OUTAGE_TIMEOUT_MS,
  );

  it(
    'Redis comes back EMPTY mid-stream: the lost state is detected, rebuilt from MySQL, same end state',
    async () => {
      const { sawRed, output } = await outageRun(
        23,
        () => execSync('redis-cli -p 6379 shutdown nosave || true', { stdio: 'pipe' }),
        () => execSync(REDIS_START_EMPTY),
        redisUp,
      );
      expect(sawRed).toBe(true);
      expect(output).toMatch(/state was lost and has been rebuilt from MySQL/);
      // Back to the persistent Redis for the tests that follow.
      execSync('redis-cli -p 6379 shutdown nosave || true', { stdio: 'pipe' });
      await waitFor(() => !redisUp(), 30_000);
      execSync(REDIS_START);
      await waitFor(redisUp, 30_000);
    },
    OUTAGE_TIMEOUT_MS,
  );

  it(
    'MariaDB down for seconds mid-stream: pauses, goes unready, resumes, same end state',
    async () => {
      const { sawRed } = await outageRun(
        22,
        () => execSync('mariadb-admin -uroot -h127.0.0.1 shutdown', { stdio: 'pipe' }),
        () => execSync(MARIADB_START),
        mariadbUp,
      );
      expect(sawRed).toBe(true);
    },
    OUTAGE_TIMEOUT_MS,
  );
});
