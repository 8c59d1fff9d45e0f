/**
 * The fault run of issue 23 (`npm run chaos`; a minutes-long version in the chaos tier): one
 * simulated input (transactions with the simulator's re-sends, disorder, late and malformed records,
 * and their settlement lines) through three ingest and two reconcile processes on the three-broker
 * cluster and the Redis Cluster (`services up --cluster`), while a seeded scheduler, at random
 * points of the stream, SIGKILLs processors and starts new ones (rebalances), kills and restarts one
 * broker at a time (a partition leader among them), kills a Redis master (its replica takes over),
 * restarts MariaDB and pauses the schema registry. Then the same input through one ingest and one
 * reconcile process on the single broker, without faults, and every effect compared: nothing lost,
 * nothing doubled.
 */
import { inject } from 'vitest';
import { execSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../config/config.ts';
import { groupLag } from './lag.ts';
import { createKafka } from '../../platform/kafka.ts';
import { sleep } from '../../platform/retry.ts';
import { registryPidFile } from '../../services/apicurio.ts';
import {
  aRedisMaster,
  clusterDown,
  clusterEnv,
  clusterStatus,
  clusterUp,
  startKafkaNode,
  startRedisNode,
  stopKafkaNode,
  waitForBrokers,
} from '../../services/cluster.ts';
import { livePid } from '../../services/process.ts';
import { loadSimulatedRefdata } from '../../simulator/load-refdata.ts';
import { produceSimulation } from '../../simulator/produce.ts';
import { runSettlementSimulation } from '../../cli/simulate.actions.ts';
import { DEFAULT_SETTLEMENT_OPTIONS } from '../../simulator/settlements.ts';
import { DEFAULT_SIM_OPTIONS, type SimOptions } from '../../simulator/types.ts';
import { topicName } from '../../topics/topics.ts';
import { createNamespace, testLogger, type TestNamespace } from './namespace.ts';
import { readEndState, spawnProcessor, type RunningIngest } from './pipeline.ts';
import { readReconState } from './recon.ts';
import { checkStateAgainstMysql, type StateCheck } from './state-check.ts';

export interface FaultRunOptions {
  events: number;
  seed: number;
  /** Processor kills (each followed by a new process in its place). */
  processorKills: number;
  /** Faults of each dependency: broker, Redis master, MariaDB restart, registry pause. */
  dependencyFaults: number;
  say: (line: string) => void;
}

export interface Check {
  name: string;
  expected: number;
  actual: number;
  lost: number;
  doubled: number;
  note?: string;
}

export interface FaultRunReport {
  events: number;
  seed: number;
  seconds: number;
  kills: number;
  rebalances: number;
  outages: Record<string, number>;
  crashes: number;
  recovery_ms: { p50: number | null; max: number | null };
  lag_peak: number;
  readiness_red_during_outage: boolean;
  window_entities: number;
  window_mismatches: number;
  checks: Check[];
}

/** A seeded generator (mulberry32): the same seed, the same schedule. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A dead letter by what it says and holds (the same in any namespace). */
function letterKey(d: { errorClass: string; redacted: boolean; originalValue: Buffer | null }): string {
  return `${d.errorClass}|${d.redacted}|${d.originalValue?.toString('base64') ?? ''}`;
}

/** Counts of a multiset. */
function counts(xs: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

/** Items of `expected` missing from `actual` (lost), and items of `actual` beyond `expected` (doubled or extra). */
export function compare(name: string, expected: readonly string[], actual: readonly string[], note?: string): Check {
  const want = counts(expected);
  const have = counts(actual);
  let lost = 0;
  let doubled = 0;
  for (const [k, n] of want) lost += Math.max(0, n - (have.get(k) ?? 0));
  for (const [k, n] of have) doubled += Math.max(0, n - (want.get(k) ?? 0));
  return { name, expected: expected.length, actual: actual.length, lost, doubled, ...(note && { note }) };
}

async function produceInput(ns: TestNamespace, sim: SimOptions): Promise<void> {
  await produceSimulation(ns.cfg, testLogger, { ...sim, ratePerSecond: 0 }, () => {});
  await loadSimulatedRefdata(ns.cfg, sim, join(ns.cfg.services.home, 'chaos', `${ns.id}-refdata`));
  await runSettlementSimulation(ns.cfg, testLogger, sim, { ...DEFAULT_SETTLEMENT_OPTIONS, seed: sim.seed }, () => {});
}

/** Both groups' lag, asked again (a new client) while a broker is away or restarting. */
async function lags(ns: TestNamespace): Promise<{ ingest: number; recon: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await lagsOnce(ns);
    } catch (err) {
      if (attempt >= 60) throw err;
      await sleep(500);
    }
  }
}

async function lagsOnce(ns: TestNamespace): Promise<{ ingest: number; recon: number }> {
  const admin = createKafka(ns.cfg, testLogger).admin();
  await admin.connect();
  try {
    const tx = topicName(ns.cfg.topicNamespace, 'transactions');
    const st = topicName(ns.cfg.topicNamespace, 'settlements');
    return {
      ingest: await groupLag(admin, ns.cfg.ingest.groupId, tx),
      recon: (await groupLag(admin, ns.cfg.recon.groupId, tx)) + (await groupLag(admin, ns.cfg.recon.groupId, st)),
    };
  } finally {
    await admin.disconnect();
  }
}

/** Runs processes until both groups have nothing left, then stops them with SIGTERM. */
async function untilCaughtUp(ns: TestNamespace, procs: () => RunningIngest[], onTick?: () => Promise<void>): Promise<void> {
  let zeroSince: number | null = null;
  for (;;) {
    await onTick?.();
    const l = await lags(ns);
    if (l.ingest === 0 && l.recon === 0) {
      zeroSince ??= Date.now();
      if (Date.now() - zeroSince > 3_000) break;
    } else zeroSince = null;
    await sleep(500);
  }
  const running = procs();
  for (const p of running) p.child.kill('SIGTERM');
  await Promise.all(running.map((p) => p.exited));
}

function mariadbUp(): boolean {
  try {
    execSync('mariadb -uroot -h127.0.0.1 -e "SELECT 1"', { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`fault run: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

/** Whether any of the processors answers /readyz 503 within `ms` (each asked every 250 ms). */
async function anyNotReady(procs: Array<{ run: { output(): string } }>, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const statuses = await Promise.all(
      procs.map((p) => {
        const port = probePort(p.run.output());
        if (port === null) return -1;
        return fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2_000) })
          .then((r) => r.status)
          .catch(() => -1);
      }),
    );
    if (statuses.includes(503)) return true;
    await sleep(250);
  }
  return false;
}

function probePort(output: string): number | null {
  const m = /"url":"http:\/\/127\.0\.0\.1:(\d+)\/metrics"/.exec(output);
  return m ? Number(m[1]) : null;
}

/**
 * Every effect of the faulted namespace against the clean pass's: rows, late rows, duplicates, dead
 * letters, decisions, alerts on the topic, reconciliation results and exception events (each a
 * check with its lost and doubled), the windows against the brute force from MySQL, and what was
 * read twice. Reads each side in turn (a million events' ids fit a test process; their snapshots
 * are not read whole: state-check.ts).
 */
export async function compareWithCleanPass(
  clean: TestNamespace,
  chaos: TestNamespace,
): Promise<{ checks: Check[]; window: StateCheck; doubled: { deadLetters: string[]; alerts: string[] } }> {
  const [a, b] = [await readEndState(clean), await readEndState(chaos)];
  const [ra, rb] = [await readReconState(clean), await readReconState(chaos)];
  const window = await checkStateAgainstMysql(chaos);
  const statusOf = (s: typeof ra) => Object.entries(s.statuses).map(([ref, st]) => `${ref}=${st}`);
  const checks: Check[] = [
    compare('transactions rows', a.transactionIds, b.transactionIds),
    compare('late rows', a.lateIds, b.lateIds),
    compare('duplicates recorded', a.duplicateIds, b.duplicateIds),
    // By content, not offset: the two topics' offsets differ where the producer's transaction
    // markers fell, which depends on its batching.
    compare('dead letters (by class and record)', a.deadLetters.map(letterKey), b.deadLetters.map(letterKey)),
    compare(
      'dead letters of distinct records',
      [...new Set(b.deadLetters.map((d) => d.source))],
      b.deadLetters.map((d) => d.source),
    ),
    compare('decisions (one per row)', b.transactionIds, b.decidedIds),
    compare('alerts on the topic (once each)', b.alertIds, b.publishedAlertIds),
    compare(
      'alerts against the clean pass',
      a.alertIds,
      b.alertIds,
      'merchant and device windows see other partitions as of the last shared checkpoint (docs/state.md), so a decision may differ',
    ),
    compare('reconciliation results (reference = status)', statusOf(ra), statusOf(rb)),
    compare('exception events on the topic (once each)', rb.eventIds, rb.publishedIds),
    compare(
      'settlement dead letters',
      ra.deadLetters.map((d) => d.source.replace(clean.cfg.topicNamespace, '')),
      rb.deadLetters.map((d) => d.source.replace(chaos.cfg.topicNamespace, '')),
    ),
  ];
  const twice = (xs: readonly string[]) => [...counts(xs)].filter(([, n]) => n > 1).map(([x]) => x);
  return {
    checks,
    window,
    doubled: { deadLetters: twice(b.deadLetters.map((d) => d.source)), alerts: twice(b.publishedAlertIds) },
  };
}

export async function faultRun(opts: FaultRunOptions): Promise<FaultRunReport> {
  const { say } = opts;
  const base = loadConfig(process.env);
  const started = Date.now();
  const startedCluster = !(await clusterStatus(base)).every((s) => s.running);
  if (startedCluster) await clusterUp(base, say);
  const sim: SimOptions = { ...DEFAULT_SIM_OPTIONS, seed: opts.seed, count: opts.events };
  const chaos = await createNamespace({ ...clusterEnv() });
  const clean = await createNamespace();
  try {
    say(`fault run: producing ${opts.events.toLocaleString('en-US')} transactions and their settlement lines, twice ...`);
    await Promise.all([produceInput(chaos, sim), produceInput(clean, sim)]);

    // The clean pass: one ingest and one reconcile process on the single broker, no faults.
    say('fault run: the clean pass (one ingest, one reconcile, no faults) ...');
    const cleanProcs = [spawnProcessor(clean, 'ingest', []), spawnProcessor(clean, 'reconcile', [])];
    await untilCaughtUp(clean, () => cleanProcs);

    // The fault run.
    say('fault run: three ingest and two reconcile processes, faults at random points ...');
    const random = rng(opts.seed);
    const procs: Array<{ kind: 'ingest' | 'reconcile'; run: RunningIngest; killed: boolean }> = [];
    let crashes = 0;
    let rebalances = 0;
    const start = (kind: 'ingest' | 'reconcile') => {
      const p = { kind, run: spawnProcessor(chaos, kind, []), killed: false };
      void p.run.exited.then((code) => {
        if (!p.killed && code !== 0) {
          crashes++;
          say(`fault run: a ${kind} process exited by itself (code ${code}):\n${p.run.output().slice(-2_000)}`);
        }
      });
      procs.push(p);
      rebalances++;
      return p;
    };
    for (let i = 0; i < 3; i++) start('ingest');
    for (let i = 0; i < 2; i++) start('reconcile');

    type Fault = 'processor' | 'broker' | 'redis' | 'mariadb' | 'registry';
    const faults: Fault[] = [
      ...Array<Fault>(opts.processorKills).fill('processor'),
      ...(['broker', 'redis', 'mariadb', 'registry'] as const).flatMap((f) => Array<Fault>(opts.dependencyFaults).fill(f)),
    ];
    // Shuffled, each at a random point of the ingest's progress (5-90 % of the stream).
    for (let i = faults.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [faults[i], faults[j]] = [faults[j] as Fault, faults[i] as Fault];
    }
    const points = faults.map(() => 0.05 + random() * 0.85).sort((a, b) => a - b);
    const total = (await lags(chaos)).ingest;
    const outages: Record<string, number> = {};
    const recoveries: number[] = [];
    let kills = 0;
    let lagPeak = 0;
    let sawRed = false;
    const tick = async () => {
      const l = await lags(chaos);
      lagPeak = Math.max(lagPeak, l.ingest + l.recon);
      return l;
    };
    /** Time from the end of a fault until the ingest commits again (none left: 0). */
    const recovered = async (since: number) => {
      const before = (await tick()).ingest;
      if (before === 0) return recoveries.push(0);
      for (let i = 0; i < 600; i++) {
        if ((await tick()).ingest < before) return recoveries.push(Date.now() - since);
        await sleep(100);
      }
      return recoveries.push(Date.now() - since);
    };
    const live = (kind?: 'ingest' | 'reconcile') =>
      procs.filter(
        (p) => !p.killed && p.run.child.exitCode === null && p.run.child.signalCode === null && (!kind || p.kind === kind),
      );

    for (const [i, fault] of faults.entries()) {
      const point = points[i] as number;
      // Wait until the stream reaches this fault's point.
      for (;;) {
        const l = await tick();
        if (l.ingest <= total * (1 - point) || l.ingest === 0) break;
        await sleep(50);
      }
      if (fault === 'processor') {
        const victims = live();
        const victim = victims[Math.floor(random() * victims.length)];
        if (!victim) continue;
        victim.killed = true;
        victim.run.child.kill('SIGKILL');
        await victim.run.exited;
        kills++;
        rebalances++;
        const at = Date.now();
        start(victim.kind);
        await recovered(at);
      } else if (fault === 'broker') {
        const id = 1 + Math.floor(random() * 3);
        await stopKafkaNode(base, id, 'SIGKILL');
        await sleep(2_000 + random() * 3_000);
        await startKafkaNode(base, id, () => {});
        await waitForBrokers(3);
        await recovered(Date.now());
      } else if (fault === 'redis') {
        const port = await aRedisMaster();
        const pid = Number(readFileSync(join(base.services.home, 'cluster', 'redis', String(port), 'redis.pid'), 'utf8'));
        process.kill(pid, 'SIGKILL');
        // Its replica is promoted after the node timeout (5 s); the old master rejoins as a replica.
        await sleep(7_000);
        await startRedisNode(base, port);
        await recovered(Date.now());
      } else if (fault === 'mariadb') {
        execSync('mariadb-admin -uroot -h127.0.0.1 shutdown', { stdio: 'pipe' });
        try {
          await waitFor(() => !mariadbUp(), 60_000, 'MariaDB to stop');
          // Readiness goes red while it is down: on whichever processor next writes to MySQL. Every
          // live one is asked (one may own no partition with work left, or be joining), for up to 15 s.
          if (!sawRed) sawRed = await anyNotReady(live(), 15_000);
          await sleep(2_000);
        } finally {
          // Started again whatever failed meanwhile: the machine's MariaDB is not left down.
          execSync('start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd', { stdio: 'pipe' });
        }
        await waitFor(mariadbUp, 120_000, 'MariaDB to come back');
        await recovered(Date.now());
      } else {
        const { pidFile, marker } = registryPidFile(base);
        const pid = livePid(pidFile, marker);
        if (pid === undefined) throw new Error('fault run: the registry is not one `txmon services up` started');
        process.kill(pid, 'SIGSTOP');
        await sleep(3_000 + random() * 2_000);
        process.kill(pid, 'SIGCONT');
        await recovered(Date.now());
      }
      if (fault !== 'processor') outages[fault] = (outages[fault] ?? 0) + 1;
      say(`fault run: ${i + 1}/${faults.length} ${fault} at ${Math.round(point * 100)} % of the stream`);
    }
    await untilCaughtUp(
      chaos,
      () => {
        // Stopped by the run (SIGTERM), not crashed: a process just started may not have its signal handler yet.
        const running = live();
        for (const p of procs) p.killed = true;
        return running.map((p) => p.run);
      },
      async () => void (await tick()),
    );

    // Compare every effect with the clean pass.
    say('fault run: comparing with the clean pass ...');
    const { checks, window, doubled } = await compareWithCleanPass(clean, chaos);
    const sorted = [...recoveries].sort((x, y) => x - y);
    const report: FaultRunReport = {
      events: opts.events,
      seed: opts.seed,
      seconds: Math.round((Date.now() - started) / 1000),
      kills,
      rebalances,
      outages,
      crashes,
      recovery_ms: { p50: sorted.length ? (sorted[Math.floor(sorted.length / 2)] ?? null) : null, max: sorted.at(-1) ?? null },
      lag_peak: lagPeak,
      readiness_red_during_outage: sawRed,
      window_entities: window.entities,
      window_mismatches: window.mismatches.length,
      checks,
    };
    const dir = join(base.services.home, 'chaos');
    mkdirSync(dir, { recursive: true });
    // Every process's log, for whoever reads a failed run; and the records whose effects came twice.
    writeFileSync(join(dir, 'processes.log'), procs.map((p, i) => `### ${p.kind} #${i + 1}\n${p.run.output()}`).join('\n'));
    writeFileSync(join(dir, 'doubled.json'), `${JSON.stringify(doubled, null, 2)}\n`);
    writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    say(
      `fault run: ${report.events.toLocaleString('en-US')} events in ${report.seconds} s; ${kills} processor kills, ${rebalances} rebalances, outages ${JSON.stringify(outages)}, ${crashes} crashes; recovery p50 ${report.recovery_ms.p50} ms, max ${report.recovery_ms.max} ms; lag peak ${lagPeak}; readiness red during the MariaDB outage: ${sawRed}`,
    );
    for (const c of checks)
      say(
        `  ${c.name.padEnd(46)} expected ${c.expected}, actual ${c.actual}, lost ${c.lost}, doubled ${c.doubled}${c.note ? ` (${c.note})` : ''}`,
      );
    say(`  windows against the brute force from MySQL: ${window.entities} entities, ${window.mismatches.length} mismatches`);
    say(`fault run: written to ${join(dir, 'latest.json')}`);
    return report;
  } finally {
    // TXMON_TEST_KEEP_NAMESPACE=1 keeps both (topics, databases, keys) to compare again
    // (compareWithCleanPass over namespaceOf(id)) or read with another client.
    if (process.env.TXMON_TEST_KEEP_NAMESPACE === '1') say(`fault run: namespaces kept: chaos ${chaos.id}, clean ${clean.id}`);
    else {
      await chaos.cleanup();
      await clean.cleanup();
    }
    // In the chaos tier the tier stops it, after its last file (tests/helpers/chaos-setup.ts).
    if (startedCluster && !inject('clusterStoppedByTier')) await clusterDown(base, () => {});
  }
}
