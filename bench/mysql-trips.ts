/**
 * A batch's MySQL transaction statement by statement (BEGIN, the generation check, the INSERT, the
 * alerts, COMMIT: a round trip each) against the same statements as one multi-statement query and
 * its COMMIT (sinks/transactions.sink.ts writeBatch `oneTrip`, what the ingest does). Not a test: it
 * measures and prints (docs/performance.md has the figures).
 *
 *   node --import tsx bench/mysql-trips.ts [rows per batch, default 170] [batches per round, default 300] [busy share, default 0.6]
 *
 * Three writers at once (the ingest's default concurrency), each writing batches of the simulator's
 * shape (80 feature values, ~5 % alerts) into a database of its own (dropped at the end), in
 * alternating rounds of each kind. `busy share` keeps the event loop that busy with synchronous
 * slices of 4 ms (as the other batches' decode, windows and detection keep the ingest's): each
 * answer then waits for the loop, which is what a round trip costs the ingest beyond the network.
 * Prints each kind's batch time p50 / p99 and MariaDB's CPU per row (its whole process, from /proc).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RowDataPacket } from 'mysql2/promise';
import { loadConfig } from '../config/config.ts';
import type { DecisionRecord } from '../detection/decision-record.ts';
import { snapshotFeatureNames } from '../domain/snapshot.ts';
import { sampleTransaction } from '../domain/transaction.fixture.ts';
import { createConnection, createPool, migrate } from '../platform/mysql.ts';
import { requireFeatureLayout } from '../sinks/feature-vector.ts';
import { writeBatch, type PositionedTransaction } from '../sinks/transactions.sink.ts';

const ROWS = Number(process.argv[2] ?? 170);
const BATCHES = Number(process.argv[3] ?? 300);
const BUSY = Number(process.argv[4] ?? 0.6);
const WRITERS = 3;
const SLICE_MS = 4;

function mariadbCpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

async function main(): Promise<void> {
  const base = loadConfig(process.env);
  const name = `txmon_benchtrips_${randomBytes(3).toString('hex')}`;
  const cfg = loadConfig({ ...process.env, TXMON_MYSQL_URL: `${base.mysql.serverUrl}/${name}` });
  await migrate(cfg, () => {});
  const pid = Number(execFileSync('pidof', ['mariadbd']).toString().trim().split(' ')[0]);
  const plain = createPool(cfg, { connectionLimit: WRITERS });
  const multi = createPool(cfg, { connectionLimit: WRITERS, multipleStatements: true });
  const names = snapshotFeatureNames(cfg.state.windows);
  const layout = await requireFeatureLayout(plain, names);
  const [[gen]] = await plain.query<RowDataPacket[]>('SELECT generation FROM state_generation WHERE id = 1');
  const generation = Number(gen?.generation ?? 0);
  let seq = 0;
  const batch = (): { fresh: PositionedTransaction[]; decisions: DecisionRecord[] } => {
    const fresh: PositionedTransaction[] = [];
    const decisions: DecisionRecord[] = [];
    for (let i = 0; i < ROWS; i++) {
      const id = `t-${(seq++).toString(36).padStart(8, '0')}-${randomBytes(4).toString('hex')}`;
      const values = JSON.stringify(names.map((_, k) => Math.round(Math.random() * 1e6) / (k % 3 === 0 ? 1 : 100)));
      fresh.push({
        tx: sampleTransaction({ transaction_id: id, idempotency_key: `i-${id}`, event_time: Date.now() }),
        position: { topic: 'bench', partition: seq % 6, offset: String(seq) },
        featureLayout: layout,
        featureValues: values,
      });
      const alerting = Math.random() < 0.05;
      decisions.push({
        transactionId: id,
        accountId: 'acc-000001',
        decision: alerting ? 'REVIEW' : 'ALLOW',
        riskScore: alerting ? 0.8 : 0.1,
        modelVersion: 'm1',
        modelScore: 0.4,
        shadowModelVersion: null,
        shadowScore: null,
        rulesetVersion: 'rs-1',
        shadowRules: null,
        rollout: null,
        ruleHits: alerting
          ? [{ ruleId: 'r-1', ruleVersion: 'v1', severity: 'high', action: 'REVIEW', detail: 'x', snoozed: false }]
          : [],
        explanation: { summary: 'bench', model: null },
        alertId: alerting ? randomBytes(16).toString('hex') : null,
        eventTime: Date.now(),
        decidedAt: Date.now(),
        amountMinor: 1999,
        currency: 'USD',
      });
    }
    return { fresh, decisions };
  };

  // The busy event loop: synchronous slices with a turn of the loop between them.
  let spinning = BUSY > 0;
  const spin = (): void => {
    if (!spinning) return;
    const end = performance.now() + SLICE_MS;
    while (performance.now() < end);
    setTimeout(spin, (SLICE_MS * (1 - BUSY)) / BUSY);
  };
  spin();

  const results: Record<string, { ms: number[]; cpuMs: number; rows: number; wallMs: number }> = {};
  try {
    for (let round = 0; round < 4; round++) {
      for (const oneTrip of round % 2 === 0 ? [false, true] : [true, false]) {
        const kind = oneTrip ? 'one query + COMMIT' : 'statement by statement';
        const r = (results[kind] ??= { ms: [], cpuMs: 0, rows: 0, wallMs: 0 });
        const batches = Array.from({ length: BATCHES }, batch);
        const cpu0 = mariadbCpuMs(pid);
        const t0 = performance.now();
        let next = 0;
        await Promise.all(
          Array.from({ length: WRITERS }, async () => {
            while (next < batches.length) {
              const b = batches[next++]!;
              const s = performance.now();
              await writeBatch(
                oneTrip ? multi : plain,
                { fresh: b.fresh, replayed: [], duplicates: [], decisions: b.decisions, stored: new Map() },
                { stateGeneration: generation, oneTrip },
              );
              r.ms.push(performance.now() - s);
            }
          }),
        );
        r.wallMs += performance.now() - t0;
        r.cpuMs += mariadbCpuMs(pid) - cpu0;
        r.rows += BATCHES * ROWS;
      }
    }
  } finally {
    spinning = false;
    await plain.end();
    await multi.end();
    const conn = await createConnection(cfg, { database: false });
    await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
    await conn.end();
  }
  console.log(`  ${WRITERS} writers, batches of ${ROWS} rows, event loop ${Math.round(BUSY * 100)} % busy`);
  for (const [kind, r] of Object.entries(results))
    console.log(
      `  ${kind.padEnd(24)} batch p50 ${quantile(r.ms, 0.5).toFixed(1)} ms, p99 ${quantile(r.ms, 0.99).toFixed(1)} ms; ` +
        `${Math.round((r.rows * 1000) / r.wallMs).toLocaleString('en')} rows/s; MariaDB ${((r.cpuMs * 1000) / r.rows).toFixed(1)} µs/row`,
    );
}

await main();
