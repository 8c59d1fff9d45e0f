/**
 * The fenced entity store (state/entity-store.ts) alone: Redis CPU per entity write and per read,
 * and the round trip of a batch, to set against PERFORMANCE.md's floors (12 µs per fenced write,
 * 1.5 µs per read). Not a test: it measures and prints.
 *
 * Two Redis servers, measured the same way:
 *  - the shared one of TXMON_REDIS_URL, AOF as it runs (CPU from /proc/<pid>/stat includes whatever
 *    else uses it meanwhile: other tests, other benches);
 *  - a private redis-server on a Unix socket with the shared one's AOF settings, that nobody else
 *    touches (its CPU is the store's alone).
 * Per server: ROUNDS batches of BATCH checkpoints of BLOB-byte blobs over the same entities (each
 * round a newer fence, so every write lands), then ROUNDS replayed batches (every write refused),
 * first with one entity per script call, then with PER_CALL (the store's grouping); ROUNDS reads
 * of BATCH entities (HGETALL). CPU from /proc (all of Redis: parsing, Lua, AOF, replies) and, beside
 * it, the server-side time of the commands from INFO commandstats.
 *
 * Run: node --import tsx bench/entity-store.ts (BENCH_STORE_BATCH, BENCH_STORE_ROUNDS, BENCH_STORE_BLOB,
 * BENCH_STORE_PER_CALL).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { quantileSorted } from 'simple-statistics';
import { loadConfig } from '../config/config.ts';
import { ENTITY_KINDS, type EntityKind } from '../platform/keys.ts';
import { createRedis, defineScripts, type TxmonRedis } from '../platform/redis.ts';
import { sleep } from '../platform/retry.ts';
import { EntityStore, type CheckpointWrite } from '../state/entity-store.ts';
import type { EntityRef } from '../state/keys.ts';

const BATCH = Number(process.env.BENCH_STORE_BATCH ?? 1_500);
const ROUNDS = Number(process.env.BENCH_STORE_ROUNDS ?? 40);
const BLOB = Number(process.env.BENCH_STORE_BLOB ?? 500);
const PER_CALL = Number(process.env.BENCH_STORE_PER_CALL ?? 500);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const say = (line: string) => process.stdout.write(`${line}\n`);

/** CPU seconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): utime is field 14, stime 15.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** usec of every command in INFO commandstats, by command name. */
async function commandUsec(redis: Redis): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_(\S+?):calls=\d+,usec=(\d+),/gm))
    out.set(m[1] as string, Number(m[2]));
  return out;
}

interface Phase {
  name: string;
  calls: number;
  wallMs: number[];
  cpuUs: number;
  cmdUs: number;
  /** This process's CPU (building the pipeline, parsing replies). */
  clientUs: number;
}

/** Runs `rounds` batches of `calls` entity operations; Redis CPU from /proc and commandstats around them. */
async function phase(
  name: string,
  redis: Redis,
  pid: number,
  commands: string[],
  rounds: number,
  calls: number,
  batch: (round: number) => Promise<unknown>,
): Promise<Phase> {
  const wallMs: number[] = [];
  const cpu0 = cpuSeconds(pid);
  const cmd0 = await commandUsec(redis);
  const client0 = process.cpuUsage();
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    await batch(r);
    wallMs.push(performance.now() - t);
  }
  const client1 = process.cpuUsage(client0);
  const cpu1 = cpuSeconds(pid);
  const cmd1 = await commandUsec(redis);
  const cmdUs = commands.reduce((sum, c) => sum + (cmd1.get(c) ?? 0) - (cmd0.get(c) ?? 0), 0);
  const clientUs = client1.user + client1.system;
  return { name, calls: rounds * calls, wallMs, cpuUs: (cpu1 - cpu0) * 1e6, cmdUs, clientUs };
}

function report(server: string, p: Phase): void {
  const sorted = [...p.wallMs].sort((a, b) => a - b);
  say(
    `${server.padEnd(8)} ${p.name.padEnd(30)} ${(p.cpuUs / p.calls).toFixed(2).padStart(7)} µs CPU/entity` +
      `  ${(p.cmdUs / p.calls).toFixed(2).padStart(6)} µs in commands/entity` +
      `  client ${(p.clientUs / p.calls).toFixed(2).padStart(6)} µs CPU/entity` +
      `  batch of ${BATCH}: p50 ${quantileSorted(sorted, 0.5).toFixed(1)} ms, p99 ${quantileSorted(sorted, 0.99).toFixed(1)} ms`,
  );
}

/**
 * Checkpoints (one entity per script call, then PER_CALL), a replay of each and reads against one
 * server; prints one line per phase.
 */
async function measure(server: string, redis: TxmonRedis): Promise<void> {
  const pid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
  const opts = { prefix: `bench-estore-${randomBytes(4).toString('hex')}`, stateTtlMs: 3_600_000 };
  const stores: Array<[string, EntityStore]> = [
    ['1 entity/call', new EntityStore(redis, { ...opts, entitiesPerCall: 1 })],
    [`${PER_CALL} entities/call`, new EntityStore(redis, { ...opts, entitiesPerCall: PER_CALL })],
  ];
  const store = stores[1]?.[1] as EntityStore;
  const kinds = Object.keys(ENTITY_KINDS) as EntityKind[];
  const entities: EntityRef[] = Array.from({ length: BATCH }, (_, i) => ({ kind: kinds[i % 4] as EntityKind, id: `e-${i}` }));
  const blob = randomBytes(BLOB);
  const source = { topic: 'txmon.transactions.v1', partition: 0 };
  const writes = (fence: number): CheckpointWrite[] => entities.map((e) => ({ ...e, source, fence: BigInt(fence), blob }));
  try {
    // Warm-up: the hashes exist, the script is loaded, the connection is hot.
    await store.checkpoint(writes(1));
    await store.read(entities);
    const scripts = ['evalsha', 'eval'];
    let fence = 1;
    for (const [label, s] of stores) {
      report(server, await phase(`write, ${label}`, redis, pid, scripts, ROUNDS, BATCH, () => s.checkpoint(writes(++fence))));
      report(server, await phase(`rejected, ${label}`, redis, pid, scripts, ROUNDS, BATCH, () => s.checkpoint(writes(1))));
    }
    report(server, await phase('read (HGETALL)', redis, pid, ['hgetall'], ROUNDS, BATCH, () => store.read(entities)));
  } finally {
    await redis.unlink(...entities.map((e) => store.key(e)));
  }
}

/** A redis-server of our own on a Unix socket, AOF as the shared one has it; stopped by the returned function. */
async function privateRedis(aof: {
  appendonly: string;
  appendfsync: string;
}): Promise<{ redis: TxmonRedis; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'txmon-bench-estore-'));
  const socket = join(dir, 'redis.sock');
  execFileSync('redis-server', [
    '--port', '0', '--unixsocket', socket, '--dir', dir, '--daemonize', 'yes', '--save', '',
    '--appendonly', aof.appendonly, '--appendfsync', aof.appendfsync, '--logfile', join(dir, 'redis.log'),
  ]); // prettier-ignore
  // No reconnecting: the server goes away for good at stop().
  const redis = defineScripts(new Redis({ path: socket, lazyConnect: true, retryStrategy: () => null }));
  for (let i = 0; ; i++) {
    try {
      await redis.connect();
      break;
    } catch (err) {
      if (i > 50) throw err;
      await sleep(100);
    }
  }
  return {
    redis,
    async stop() {
      await redis.shutdown('NOSAVE').catch(() => {}); // (the reply is the connection closing)
      redis.disconnect();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const shared = createRedis(loadConfig(process.env));
await shared.connect();
const [, appendonly = 'no'] = (await shared.config('GET', 'appendonly')) as string[];
const [, appendfsync = 'everysec'] = (await shared.config('GET', 'appendfsync')) as string[];
say(
  `entity store: batches of ${BATCH} entities, ${BLOB}-byte blobs, ${ROUNDS} rounds per phase; AOF appendonly=${appendonly} appendfsync=${appendfsync}`,
);
say('(CPU per entity from /proc/<redis pid>/stat; the shared Redis also serves whoever else runs now)');
try {
  await measure('shared', shared);
  const own = await privateRedis({ appendonly, appendfsync });
  try {
    await measure('private', own.redis);
  } finally {
    await own.stop();
  }
} finally {
  shared.disconnect();
}
