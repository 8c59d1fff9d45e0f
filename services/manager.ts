/**
 * The local service manager behind `txmon services up|down|status`: Kafka and the schema registry
 * are started (and stopped) by txmon; MariaDB and Redis are the machine's own and only checked/started.
 */
import { rmSync } from 'node:fs';
import type { TxmonConfig } from '../config/config.ts';
import { ServiceError, errorMessage } from '../platform/errors.ts';
import { ensureKafka, kafkaPaths, kafkaPidFile, kafkaStatus } from './kafka.ts';
import { ensureMariadb, ensureRedis, mariadbStatus, redisStatus } from './local-db.ts';
import { livePid, secondsSince, stopPid } from './process.ts';
import { ensureRegistry, registryPaths, registryPidFile, registryStatus } from './apicurio.ts';
import type { Log, ManagedServiceName, ServiceName, ServiceStatus } from './types.ts';

export type { ServiceName, ServiceStatus } from './types.ts';

const STOP_TIMEOUT_MS = 30_000;

/** The setting a user changes to point txmon at their own instance of each service. */
const SETTING: Record<ServiceName, string> = {
  kafka: 'TXMON_KAFKA_BROKERS',
  registry: 'TXMON_REGISTRY_URL',
  mariadb: 'TXMON_MYSQL_URL',
  redis: 'TXMON_REDIS_URL',
};

/** Reports all four services without starting or stopping anything. */
export async function servicesStatus(cfg: TxmonConfig): Promise<ServiceStatus[]> {
  return Promise.all([kafkaStatus(cfg), registryStatus(cfg), mariadbStatus(cfg), redisStatus(cfg)]);
}

/**
 * Brings every service up (idempotent: what already answers is only reported). Kafka, Redis and
 * MariaDB→registry start in parallel. With TXMON_START_LOCAL_SERVICES=false it only checks reachability.
 */
export async function servicesUp(cfg: TxmonConfig, log: Log): Promise<ServiceStatus[]> {
  if (!cfg.services.startLocal) return checkOnly(cfg);
  const results = await Promise.allSettled([
    ensureKafka(cfg, log),
    ensureMariadb(cfg, log).then(async (db) => [db, await ensureRegistry(cfg, log)] as const),
    ensureRedis(cfg, log),
  ]);
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [errorMessage(r.reason)] : []));
  if (failures.length > 0) {
    const cause = results.find((r) => r.status === 'rejected')?.reason as unknown;
    throw new ServiceError(`services up failed:\n${failures.map((f) => `  - ${f}`).join('\n')}`, cause);
  }
  return servicesStatus(cfg);
}

async function checkOnly(cfg: TxmonConfig): Promise<ServiceStatus[]> {
  const statuses = await servicesStatus(cfg);
  const down = statuses.filter((s) => !s.running);
  if (down.length > 0) {
    const lines = down.map((s) => `  - ${s.name} at ${s.address}: ${s.detail} (check ${SETTING[s.name]})`);
    throw new ServiceError(`TXMON_START_LOCAL_SERVICES=false and these services do not answer:\n${lines.join('\n')}`);
  }
  return statuses;
}

/** Stops what txmon started (Kafka, registry): SIGTERM, up to 30 s, then SIGKILL. Data stays; MariaDB/Redis are left alone. */
export async function servicesDown(cfg: TxmonConfig, log: Log): Promise<void> {
  const owned: [ManagedServiceName, { pidFile: string; marker: string }][] = [
    ['registry', registryPidFile(cfg)],
    ['kafka', kafkaPidFile(cfg)],
  ];
  await Promise.all(
    owned.map(async ([name, { pidFile, marker }]) => {
      const pid = livePid(pidFile, marker);
      if (pid === undefined) {
        log(`${name}: not started by txmon, nothing to stop`);
        return;
      }
      log(`${name}: stopping pid ${pid} ...`);
      const started = Date.now();
      const how = await stopPid(pid, STOP_TIMEOUT_MS);
      rmSync(pidFile, { force: true });
      log(
        how === 'killed'
          ? `${name}: pid ${pid} ignored SIGTERM for 30 s, killed`
          : `${name}: stopped in ${secondsSince(started)} s`,
      );
    }),
  );
}

/** The log file to read when a managed service misbehaves. */
export function serviceLogPath(cfg: TxmonConfig, name: 'kafka' | 'registry'): string {
  return name === 'kafka' ? kafkaPaths(cfg).serverLog : registryPaths(cfg).log;
}
