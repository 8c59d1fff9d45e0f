/**
 * `npm run bench:api`: autocannon against the dashboard API's alert list and account-aggregates
 * routes while the pipeline runs (an ingest process deciding a live stream at BENCH_API_RATE
 * transactions per second). Prints requests per second and latency percentiles per route. Not a
 * test: it measures and prints. BENCH_API_SECONDS (default 10) per route, BENCH_API_CONNECTIONS (10).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { loadConfig } from '../config/config.ts';
import { prepareNamespace } from '../cli/prepare-namespace.ts';
import { resetNamespace } from '../cli/reset-namespace.ts';
import { createApiKey } from '../dashboard-api/auth/api-keys.ts';
import { startApi } from '../dashboard-api/server.ts';
import { createLogger } from '../platform/logger.ts';
import { createPool } from '../platform/mysql.ts';
import { startIngest } from '../processors/ingest/main.ts';
import { loadSimulatedRefdata } from '../simulator/load-refdata.ts';
import { produceSimulation } from '../simulator/produce.ts';
import { DEFAULT_SIM_OPTIONS } from '../simulator/types.ts';
import type { RowDataPacket } from 'mysql2/promise';

const say = (line: string) => process.stdout.write(`${line}\n`);
const seconds = Number(process.env.BENCH_API_SECONDS ?? 10);
const connections = Number(process.env.BENCH_API_CONNECTIONS ?? 10);
const rate = Number(process.env.BENCH_API_RATE ?? 500);
const base = loadConfig(process.env);
const env = {
  ...process.env,
  TXMON_TOPIC_NAMESPACE: 'bench-api.',
  TXMON_MYSQL_URL: `${base.mysql.serverUrl}/txmon_bench_api`,
  TXMON_KEY_PREFIX: 'txmon-bench-api',
  TXMON_INGEST_GROUP_ID: 'txmon-bench-api-ingest',
  // The bench measures the routes, not the limiter's refusals.
  TXMON_API_RATE_LIMIT_PER_MINUTE: '1000000000',
  TXMON_API_RATE_LIMIT_PER_ADDRESS_PER_MINUTE: '1000000000',
  TXMON_LOG_LEVEL: 'warn',
};
const cfg = loadConfig(env);
const logger = createLogger({ level: process.env.BENCH_LOG_LEVEL ?? 'error' });

export async function apiBench(): Promise<void> {
  say(`api bench: ${connections} connections, ${seconds} s per route, pipeline live at ${rate} tx/s`);
  await resetNamespace(cfg, logger, () => {});
  await prepareNamespace(cfg, logger);
  const history = { ...DEFAULT_SIM_OPTIONS, seed: 5, count: 20_000 };
  await produceSimulation(cfg, logger, { ...history, ratePerSecond: 0 }, () => {});
  await loadSimulatedRefdata(cfg, history, join('.txmon', 'bench-api-refdata'));
  await (
    await startIngest(cfg, logger, { drain: true })
  ).done;
  const pool = createPool(cfg);
  const { key } = await createApiKey(pool, 'bench', 'analyst', 'bench');
  const [accounts] = await pool.query<RowDataPacket[]>(
    'SELECT DISTINCT account_id FROM transactions ORDER BY account_id LIMIT 1000',
  );
  const [[alerts]] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM alerts');
  await pool.end();
  const ids = accounts.map((r) => String(r.account_id));

  // The pipeline runs: an ingest process deciding a live stream while the API is loaded.
  const ingest = spawn(process.execPath, ['bin/txmon.js', 'run', 'ingest', '--metrics-port', '0'], {
    env: { ...env, TXMON_LOG_PRETTY: 'false' },
    stdio: 'ignore',
  });
  const live = produceSimulation(
    cfg,
    logger,
    {
      ...DEFAULT_SIM_OPTIONS,
      seed: 6,
      count: rate * seconds * 3,
      startTime: history.startTime + 2 * 86_400_000,
      ratePerSecond: rate,
    },
    () => {},
  );
  const api = await startApi(cfg, logger, { host: '127.0.0.1', port: 0 });
  try {
    const headers = { authorization: `Bearer ${key}` };
    const routes: Array<[string, autocannon.Request[]]> = [
      ['GET /api/v1/alerts?limit=50', [{ method: 'GET', path: '/api/v1/alerts?limit=50' }]],
      [
        'GET /api/v1/accounts/{id}/aggregates',
        [
          {
            method: 'GET',
            setupRequest: (req) => ({
              ...req,
              path: `/api/v1/accounts/${ids[Math.floor(Math.random() * ids.length)]}/aggregates`,
            }),
          },
        ],
      ],
    ];
    say(
      `  ${Number(alerts?.n).toLocaleString('en')} alerts stored before the live stream; ${ids.length} accounts queried at random`,
    );
    say(
      `  ${'route'.padEnd(40)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'non-2xx'.padStart(8)} ${'errors'.padStart(7)}`,
    );
    for (const [name, requests] of routes) {
      const r = await autocannon({ url: api.url, connections, duration: seconds, headers, requests });
      say(
        `  ${name.padEnd(40)} ${Math.round(r.requests.average).toLocaleString('en').padStart(8)} ${String(r.latency.p50).padStart(8)} ${String(r.latency.p99).padStart(8)} ${String(r.non2xx).padStart(8)} ${String(r.errors).padStart(7)}`,
      );
      const codes = Object.entries(r.statusCodeStats ?? {}).filter(([code]) => !code.startsWith('2'));
      if (codes.length > 0) say(`    non-2xx by status: ${codes.map(([code, v]) => `${code} ${v.count}`).join(', ')}`);
    }
  } finally {
    await api.close();
    ingest.kill('SIGTERM');
    await live.catch(() => {});
  }
}

if (import.meta.url === `file://${process.argv[1]}`)
  apiBench().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`api bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
