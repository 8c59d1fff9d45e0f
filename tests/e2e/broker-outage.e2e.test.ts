// The broker itself hung (SIGSTOP) and then down for seconds mid-stream: the processor waits and
// resumes by itself, and the end state equals the ground truth (nothing lost, nothing doubled). The
// API beside it answers /metrics and /readyz within 1 s all along (issue 23): the last known
// pipeline view with its age, and not-ready with Retry-After while the broker is away.
import { afterAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../dashboard-api/auth/api-keys.ts';
import { startApi, type ApiServer } from '../../dashboard-api/server.ts';
import { createPool, type Pool } from '../../platform/mysql.ts';
import { createKafka } from '../../platform/kafka.ts';
import { sleep } from '../../platform/retry.ts';
import { groupLag } from '../../platform/batch-consumer.ts';
import { topicName } from '../../topics/topics.ts';
import { kafkaAddress } from '../../services/addresses.ts';
import { ensureKafka, kafkaAnswers, kafkaPidFile } from '../../services/kafka.ts';
import { livePid, stopPid } from '../../services/process.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';
import { expectEndStateOf, produceSimulated, readEndState, spawnIngest } from '../helpers/pipeline.ts';

let ns: TestNamespace | undefined;
let pool: Pool | undefined;
let api: ApiServer | undefined;
afterAll(async () => {
  await api?.close();
  await pool?.end();
  if (ns) {
    await ensureKafka(ns.cfg, () => {});
    await ns.cleanup();
  }
});

describe('broker outage', () => {
  it('Kafka down for seconds mid-stream: resumes by itself, same end state', async () => {
    ns = await createNamespace({ TXMON_INGEST_MAX_BYTES_PER_PARTITION: '8192', TXMON_INGEST_CONCURRENCY: '1' });
    const { pidFile, marker } = kafkaPidFile(ns.cfg);
    const pid = livePid(pidFile, marker);
    if (pid === undefined)
      throw new Error('this test stops the broker, so it must be the one `txmon services up` started (.txmon/kafka/kafka.pid)');
    const sim = await produceSimulated(ns, { seed: 51, count: 20_000 });

    const run = spawnIngest(ns, ['--drain']);
    // Stop the broker once the processor is busy (its first progress line), with most still to do.
    for (let i = 0; i < 300 && !/"processed":[1-9]/.test(run.output()); i++) await sleep(50);
    const admin = createKafka(ns.cfg, testLogger).admin();
    await admin.connect();
    const lagAtStop = await groupLag(admin, ns.cfg.ingest.groupId, topicName(ns.cfg.topicNamespace, 'transactions'));
    await admin.disconnect();
    expect(lagAtStop).toBeGreaterThan(5_000);
    // The API, scraped every 250 ms from here on: each answer within 1 s whatever the broker does.
    pool = createPool(ns.cfg);
    const sre = (await createApiKey(pool, 'outage-sre', 'sre', 'test')).key;
    api = await startApi({ ...ns.cfg, api: { ...ns.cfg.api, keyCacheMs: 0 } }, testLogger, { host: '127.0.0.1', port: 0 });
    const base = api.url;
    type Answer = { phase: string; path: string; ms: number; status: number; retryAfter: string | null; body: string };
    const answers: Answer[] = [];
    let phase = 'up';
    let scraping = true;
    const scraper = (async () => {
      while (scraping) {
        for (const path of ['/metrics', '/readyz']) {
          const at = phase;
          const t0 = performance.now();
          const res = await fetch(`${base}${path}`, path === '/metrics' ? { headers: { authorization: `Bearer ${sre}` } } : {});
          const body = await res.text();
          answers.push({
            phase: at,
            path,
            ms: performance.now() - t0,
            status: res.status,
            retryAfter: res.headers.get('retry-after'),
            body,
          });
        }
        await sleep(250);
      }
    })();
    await sleep(1_500);
    // Hung: the broker's process stopped (its connections open, no answers) for 3 s.
    phase = 'hung';
    process.kill(pid, 'SIGSTOP');
    await sleep(3_000);
    process.kill(pid, 'SIGCONT');
    phase = 'up';
    await sleep(1_000);

    phase = 'down';
    await stopPid(pid, 30_000);
    expect((await kafkaAnswers(kafkaAddress(ns.cfg), 'txmon-test')).ok).toBe(false);
    await sleep(5_000);
    phase = 'restarting';
    await ensureKafka(ns.cfg, () => {});
    phase = 'up';
    await sleep(1_500);
    scraping = false;
    await scraper;
    const slow = answers.filter((a) => a.ms >= 1_000).map((a) => `${a.phase} ${a.path}: ${Math.round(a.ms)} ms`);
    expect(slow).toEqual([]);
    const scrapes = answers.filter((x) => x.path === '/metrics');
    for (const a of scrapes) expect(a.status, `${a.phase} /metrics`).toBe(200);
    // From the first reading on (a cold client's first read may outlast the 500 ms wait), the last
    // known lag with its age, even while the broker is hung or away.
    const age = /txmon_api_probe_value_age_seconds\{reading="lag"\}/;
    const first = scrapes.findIndex((a) => age.test(a.body));
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThan(3);
    for (const a of scrapes.slice(first)) expect(a.body, `${a.phase} /metrics`).toMatch(age);
    const down = answers.filter((a) => a.path === '/readyz' && a.phase === 'down');
    expect(down.length).toBeGreaterThan(5);
    expect(down.some((a) => a.status === 503)).toBe(true);
    for (const a of answers.filter((x) => x.path === '/readyz' && x.status === 503)) expect(a.retryAfter).toBe('1');
    console.info(
      `broker outage: ${answers.length} scrapes of /metrics and /readyz, slowest ${Math.round(Math.max(...answers.map((a) => a.ms)))} ms; /readyz while down: ${down.map((a) => a.status).join(',')}`,
    );

    const exited = await Promise.race([run.exited, sleep(90_000).then(() => 'timeout' as const)]);
    if (exited === 'timeout') run.child.kill('SIGKILL');
    expect(exited, run.output().slice(-6_000)).toBe(0);
    expectEndStateOf(await readEndState(ns), sim);
  });
});
