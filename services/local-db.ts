/**
 * The machine's own MariaDB and Redis. txmon never owns them: it checks they answer and, when they
 * are local and down, starts them with the system's binaries. It never stops them.
 */
import { existsSync } from 'node:fs';
import type mysql from 'mysql2/promise';
import { Redis, type RedisOptions } from 'ioredis';
import type { TxmonConfig } from '../config/config.ts';
import { ServiceError, errorMessage } from '../platform/errors.ts';
import { createConnection } from '../platform/mysql.ts';
import { redisConnectionOptions } from '../platform/redis.ts';
import { formatHostPort, isLocalHost, mysqlServer, redisAddress } from './addresses.ts';
import { runCommand, secondsSince, tcpOpen, waitUntil } from './process.ts';
import type { Log, ServiceStatus } from './types.ts';

const MARIADBD = '/usr/sbin/mariadbd';
const START_TIMEOUT_MS = 30_000;

type Probe = { ok: true; detail: string } | { ok: false; detail: string };

/** Connects and runs `SELECT VERSION()`. */
async function probeMysql(cfg: TxmonConfig): Promise<Probe> {
  const server = mysqlServer(cfg);
  if (!(await tcpOpen(server.host, server.port))) return { ok: false, detail: 'not listening' };
  let conn: mysql.Connection | undefined;
  try {
    conn = await createConnection(cfg, { database: false });
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
    return { ok: true, detail: `MySQL/MariaDB ${String(rows[0]?.v ?? '?')}` };
  } catch (err) {
    return { ok: false, detail: `listening, but a query failed: ${errorMessage(err)}` };
  } finally {
    // A probe: the answer above is the result; a connection that does not close cleanly changes none of it.
    // eslint-disable-next-line no-restricted-syntax -- the probe's result is already decided
    await conn?.end().catch(() => undefined);
  }
}

/** Connects and runs PING, reading the server version from INFO. */
async function probeRedis(options: RedisOptions, host: string, port: number): Promise<Probe> {
  if (!(await tcpOpen(host, port))) return { ok: false, detail: 'not listening' };
  const redis = new Redis({
    ...options,
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined); // reported through the probe result instead
  try {
    await redis.connect();
    const pong = await redis.ping();
    const info = await redis.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
    if (pong !== 'PONG') return { ok: false, detail: `PING answered ${pong}` };
    return { ok: true, detail: `Redis ${version}, ${await persistence(redis)}` };
  } catch (err) {
    return { ok: false, detail: `listening, but PING failed: ${errorMessage(err)}` };
  } finally {
    redis.disconnect();
  }
}

/** How Redis persists txmon's state: "AOF on (fsync always)", or a warning. */
async function persistence(redis: Redis): Promise<string> {
  try {
    const [, aof] = (await redis.config('GET', 'appendonly')) as string[];
    const [, fsync] = (await redis.config('GET', 'appendfsync')) as string[];
    return aof === 'yes' ? `AOF on (fsync ${fsync})` : 'AOF OFF: state lost on restart (rebuilt from MySQL)';
  } catch {
    return 'persistence unknown (CONFIG not allowed)';
  }
}

/**
 * The state Redis keeps what it acknowledged: AOF with an fsync per write batch (one pipeline per
 * ingest batch, so about one fsync per batch). Turned on at run time for a Redis txmon may manage.
 */
async function enableAof(options: RedisOptions, log: Log): Promise<void> {
  const redis = new Redis({
    ...options,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const [, aof] = (await redis.config('GET', 'appendonly')) as string[];
    const [, fsync] = (await redis.config('GET', 'appendfsync')) as string[];
    if (aof === 'yes' && fsync === 'always') return;
    await redis.config('SET', 'appendfsync', 'always');
    if (aof !== 'yes') await redis.config('SET', 'appendonly', 'yes');
    log('redis: turned on AOF persistence (appendonly yes, appendfsync always) so the state survives a restart');
  } catch (err) {
    log(`redis: could not turn on AOF (${errorMessage(err)}); state will be rebuilt from MySQL after a restart`);
  } finally {
    redis.disconnect();
  }
}

/** Status of the configured MySQL/MariaDB server. */
export async function mariadbStatus(cfg: TxmonConfig): Promise<ServiceStatus> {
  const server = mysqlServer(cfg);
  const probe = await probeMysql(cfg);
  return { name: 'mariadb', running: probe.ok, managed: false, address: formatHostPort(server), detail: probe.detail };
}

/** Status of the configured Redis. */
export async function redisStatus(cfg: TxmonConfig): Promise<ServiceStatus> {
  const a = redisAddress(cfg);
  const probe = await probeRedis(redisConnectionOptions(cfg), a.host, a.port);
  return { name: 'redis', running: probe.ok, managed: false, address: formatHostPort(a), detail: probe.detail };
}

async function onPath(bin: string): Promise<boolean> {
  return (await runCommand('sh', ['-c', `command -v ${bin}`])).code === 0;
}

/** Makes sure MariaDB answers, starting the machine's mariadbd when it is local and down. */
export async function ensureMariadb(cfg: TxmonConfig, log: Log): Promise<ServiceStatus> {
  const current = await mariadbStatus(cfg);
  if (current.running) return current;
  const server = mysqlServer(cfg);
  if (!isLocalHost(server.host)) {
    throw new ServiceError(`mariadb: ${current.address} does not answer (${current.detail}); check TXMON_MYSQL_URL`);
  }
  if (current.detail !== 'not listening') {
    throw new ServiceError(`mariadb: ${current.address} ${current.detail}; check the user and password in TXMON_MYSQL_URL`);
  }
  if (!existsSync(MARIADBD) || !(await onPath('start-stop-daemon'))) {
    throw new ServiceError(
      `mariadb: nothing listens on ${current.address} and ${MARIADBD} is not installed; start MySQL/MariaDB or set TXMON_MYSQL_URL`,
    );
  }
  log(`mariadb: not running, starting ${MARIADBD} ...`);
  const started = Date.now();
  const res = await runCommand('start-stop-daemon', ['--start', '--oknodo', '--background', '--exec', MARIADBD]);
  if (res.code !== 0) throw new ServiceError(`mariadb: start-stop-daemon failed (exit ${res.code}): ${res.output.trim()}`);
  const ready = await waitUntil(async () => (await probeMysql(cfg)).ok, { timeoutMs: START_TIMEOUT_MS });
  if (!ready.ok)
    throw new ServiceError(`mariadb: started ${MARIADBD} but ${current.address} is ${ready.reason}; see the MariaDB error log`);
  log(`mariadb: started in ${secondsSince(started)} s`);
  return mariadbStatus(cfg);
}

/** Makes sure Redis answers, starting the machine's redis-server when it is local and down. */
export async function ensureRedis(cfg: TxmonConfig, log: Log): Promise<ServiceStatus> {
  const current = await redisStatus(cfg);
  const a = redisAddress(cfg);
  if (current.running) {
    if (isLocalHost(a.host) && !current.detail.includes('AOF on (fsync always)')) {
      await enableAof(redisConnectionOptions(cfg), log);
      return redisStatus(cfg);
    }
    return current;
  }
  if (!isLocalHost(a.host)) {
    throw new ServiceError(`redis: ${current.address} does not answer (${current.detail}); check TXMON_REDIS_URL`);
  }
  if (current.detail !== 'not listening') {
    throw new ServiceError(`redis: ${current.address} ${current.detail}; check TXMON_REDIS_URL`);
  }
  if (a.port !== 6379 || !(await onPath('redis-server'))) {
    throw new ServiceError(
      `redis: nothing listens on ${current.address} and txmon can only start the local redis-server on port 6379; start Redis or set TXMON_REDIS_URL`,
    );
  }
  log('redis: not running, starting redis-server ...');
  const started = Date.now();
  const res = await runCommand('redis-server', [
    '--daemonize',
    'yes',
    '--bind',
    '127.0.0.1',
    '-::1',
    '--port',
    '6379',
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--dir',
    '/var/lib/redis',
    '--logfile',
    '/var/log/redis/ci.log',
  ]);
  if (res.code !== 0) throw new ServiceError(`redis: redis-server failed to start (exit ${res.code}): ${res.output.trim()}`);
  const ready = await waitUntil(async () => (await probeRedis(redisConnectionOptions(cfg), a.host, a.port)).ok, {
    timeoutMs: START_TIMEOUT_MS,
  });
  if (!ready.ok)
    throw new ServiceError(`redis: started redis-server but ${current.address} is ${ready.reason}; see /var/log/redis/ci.log`);
  log(`redis: started in ${secondsSince(started)} s`);
  return redisStatus(cfg);
}

/** Creates a database on the configured server if it does not exist (the registry keeps its schemas there). */
export async function createDatabase(cfg: TxmonConfig, database: string): Promise<void> {
  const conn = await createConnection(cfg, { database: false });
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${database}\``);
  } finally {
    await conn.end();
  }
}
