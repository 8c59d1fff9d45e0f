/**
 * The local schema registry: Apicurio Registry (Confluent-compatible API under /apis/ccompat/v7),
 * unpacked from Maven Central into <home>/registry/dist. Apicurio 3 keeps its schemas in MariaDB so
 * schema ids survive a restart; without Java 21 it falls back to Apicurio 2 in memory.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TxmonConfig } from '../config/config.ts';
import { ServiceError, errorMessage } from '../platform/errors.ts';
import { registryAuthHeaders } from '../platform/schema-registry.ts';
import { formatHostPort, isLocalHost, mysqlServer, registryAddress } from './addresses.ts';
import { findJava, requireJava, type JavaRuntime } from './java.ts';
import { createDatabase } from './local-db.ts';
import { runMaven } from './maven.ts';
import { isAlive, lastLines, livePid, runCommand, secondsSince, spawnDetached, tailFile, tcpOpen, waitUntil } from './process.ts';
import type { Log, ServiceStatus } from './types.ts';

/** Apicurio 2.x runs on Java 17 but has no MySQL storage: the in-memory fallback. */
const FALLBACK_VERSION = '2.6.13.Final';
const REGISTRY_DATABASE = 'txmon_registry';
const READY_TIMEOUT_MS = 60_000;
/** Both the 3.x launcher (quarkus-run.jar) and the 2.x one (*-runner.jar) are started with -jar; this marks them. */
const MARKER = '-Dtxmon.service=registry';

/** Every file the local registry uses, under <home>/registry. */
export function registryPaths(cfg: TxmonConfig) {
  const dir = join(cfg.services.home, 'registry');
  return {
    dir,
    download: join(dir, 'download'),
    dist: join(dir, 'dist'),
    distVersion: join(dir, 'dist', '.txmon-version'),
    logs: join(dir, 'logs'),
    log: join(dir, 'logs', 'registry.log'),
    pid: join(dir, 'registry.pid'),
  };
}

/** True when `GET <registryUrl>/subjects` answers 200. */
export async function registryAnswers(cfg: TxmonConfig): Promise<{ ok: boolean; subjects: number }> {
  try {
    const res = await fetch(`${cfg.registryUrl}/subjects`, {
      headers: registryAuthHeaders(cfg),
      signal: AbortSignal.timeout(3000),
    });
    if (res.status !== 200) return { ok: false, subjects: 0 };
    const body: unknown = await res.json();
    return { ok: true, subjects: Array.isArray(body) ? body.length : 0 };
  } catch {
    return { ok: false, subjects: 0 };
  }
}

function installedVersion(cfg: TxmonConfig): string | undefined {
  const p = registryPaths(cfg).distVersion;
  return existsSync(p) ? readFileSync(p, 'utf8').trim() : undefined;
}

/** Registry status: ours (pid file), someone else's that answers, or down. */
export async function registryStatus(cfg: TxmonConfig): Promise<ServiceStatus> {
  const a = registryAddress(cfg);
  const address = formatHostPort(a);
  const pid = livePid(registryPaths(cfg).pid, MARKER);
  const probe = await registryAnswers(cfg);
  if (pid !== undefined) {
    const version = installedVersion(cfg) ?? '?';
    const storage = version.startsWith('2.')
      ? 'in-memory storage: schema ids do NOT survive a restart'
      : `storage in ${REGISTRY_DATABASE}`;
    return probe.ok
      ? {
          name: 'registry',
          running: true,
          managed: true,
          address,
          pid,
          detail: `Apicurio ${version}, ${storage}, ${probe.subjects} subjects`,
        }
      : { name: 'registry', running: false, managed: true, address, pid, detail: 'process alive but not answering (starting?)' };
  }
  if (probe.ok)
    return { name: 'registry', running: true, managed: false, address, detail: `external registry, ${probe.subjects} subjects` };
  const taken = await tcpOpen(a.host, a.port);
  return {
    name: 'registry',
    running: false,
    managed: false,
    address,
    detail: taken ? `port ${a.port} taken by a process that does not answer ${cfg.registryUrl}/subjects` : 'not running',
  };
}

/** Downloads the Apicurio tarball from Maven Central and unpacks it into dist/, unless this version is there. */
async function ensureDist(cfg: TxmonConfig, version: string, log: Log): Promise<void> {
  const p = registryPaths(cfg);
  if (installedVersion(cfg) === version) return;
  rmSync(p.dist, { recursive: true, force: true });
  mkdirSync(p.download, { recursive: true });
  mkdirSync(p.dist, { recursive: true });
  log(`registry: downloading Apicurio Registry ${version} from Maven Central (~160 MB) ...`);
  const started = Date.now();
  await runMaven(
    ['dependency:copy', `-Dartifact=io.apicurio:apicurio-registry-app:${version}:tar.gz:all`, `-DoutputDirectory=${p.download}`],
    `registry: downloading Apicurio Registry ${version}`,
    'TXMON_REGISTRY_VERSION',
    p.download,
  );
  const tarball = join(p.download, `apicurio-registry-app-${version}-all.tar.gz`);
  const untar = await runCommand('tar', ['xzf', tarball, '-C', p.dist]);
  if (untar.code !== 0) throw new ServiceError(`registry: unpacking ${tarball} failed:\n${lastLines(untar.output, 10)}`);
  // Maven keeps its own copy in ~/.m2; this one is only the unpack source
  rmSync(p.download, { recursive: true, force: true });
  writeFileSync(p.distVersion, `${version}\n`);
  log(`registry: Apicurio ${version} ready in ${secondsSince(started)} s`);
}

/** The launcher jar in dist/: quarkus-run.jar (3.x) or *-runner.jar (2.x), possibly one directory down. */
function launcherJar(dist: string): { cwd: string; jar: string } {
  const search = [
    dist,
    ...readdirSync(dist, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => join(dist, d.name)),
  ];
  for (const dir of search) {
    const names = readdirSync(dir);
    const jar = names.find((n) => n === 'quarkus-run.jar') ?? names.find((n) => n.endsWith('-runner.jar'));
    if (jar) return { cwd: dir, jar };
  }
  throw new ServiceError(
    `registry: no quarkus-run.jar or *-runner.jar in ${dist}; delete ${dist} and run \`txmon services up\` again`,
  );
}

/** Picks the Apicurio version and Java to run it: 3.x on Java 21+, else 2.x in memory on Java 17. */
async function chooseRuntime(cfg: TxmonConfig, log: Log): Promise<{ version: string; java: JavaRuntime; persistent: boolean }> {
  const wanted = cfg.services.registryVersion;
  if (wanted.startsWith('2.')) {
    return { version: wanted, java: await requireJava(cfg.services.javaHome, 17, 'registry'), persistent: false };
  }
  const java21 = await findJava(cfg.services.registryJavaHome, 21);
  if (java21) return { version: wanted, java: java21, persistent: true };
  log(
    `registry: WARNING: no Java 21+ found (set TXMON_REGISTRY_JAVA_HOME); falling back to Apicurio ${FALLBACK_VERSION} ` +
      'with IN-MEMORY storage. Schema ids will NOT survive a registry restart; consumers may then fail to decode old records.',
  );
  return { version: FALLBACK_VERSION, java: await requireJava(cfg.services.javaHome, 17, 'registry'), persistent: false };
}

/**
 * The registry's command line and the environment it adds. The database password goes into the
 * environment (Quarkus reads APICURIO_DATASOURCE_PASSWORD as apicurio.datasource.password), never
 * onto the command line: any local user can read a command line (`ps`, /proc/<pid>/cmdline), while
 * /proc/<pid>/environ is readable by the process's owner only.
 */
export function registryLaunch(
  cfg: TxmonConfig,
  jar: string,
  persistent: boolean,
): { args: string[]; env: Record<string, string> } {
  const env: Record<string, string> = {};
  const args = registryArgs(cfg, jar, persistent);
  if (persistent) {
    const { password } = mysqlServer(cfg);
    // An empty password reveals nothing and must still be said: left out, Apicurio falls back to
    // its own default password and the database refuses it (a fresh local start failed so).
    if (password === '') args.splice(args.indexOf('-jar'), 0, '-Dapicurio.datasource.password=');
    else env.APICURIO_DATASOURCE_PASSWORD = password;
  }
  return { args, env };
}

function registryArgs(cfg: TxmonConfig, jar: string, persistent: boolean): string[] {
  const a = registryAddress(cfg);
  const args = [
    '-Xmx512m',
    MARKER,
    `-Dquarkus.http.host=${a.host}`,
    `-Dquarkus.http.port=${a.port}`,
    `-Dquarkus.management.host=${a.host}`,
    `-Dquarkus.management.port=${cfg.services.registryManagementPort}`,
  ];
  if (persistent) {
    const db = mysqlServer(cfg);
    args.push(
      '-Dapicurio.storage.kind=sql',
      '-Dapicurio.storage.sql.kind=mysql',
      `-Dapicurio.datasource.url=jdbc:mysql://${formatHostPort(db)}/${REGISTRY_DATABASE}`,
      `-Dapicurio.datasource.username=${db.user}`,
      // the default '*' makes Apicurio's "already initialised?" check look for an `apicurio` table in
      // every database on the server, so another Apicurio's database (e.g. a test one) breaks start-up
      `-Dapicurio.sql.db-schema=${REGISTRY_DATABASE}`,
    );
  }
  return [...args, '-jar', jar];
}

async function waitReady(cfg: TxmonConfig, pid: number): Promise<void> {
  const ready = await waitUntil(async () => (await registryAnswers(cfg)).ok, {
    timeoutMs: READY_TIMEOUT_MS,
    abort: () => (isAlive(pid) ? undefined : `process ${pid} exited while starting`),
  });
  if (!ready.ok) {
    const log = registryPaths(cfg).log;
    const tail = await tailFile(log, 15);
    throw new ServiceError(`registry: ${cfg.registryUrl}/subjects ${ready.reason}; see ${log}${tail ? `\n${tail}` : ''}`);
  }
}

/**
 * Makes sure a registry answers at TXMON_REGISTRY_URL: reuses ours or an external one, else downloads
 * Apicurio and starts it detached. MariaDB must already be up (the caller orders this).
 */
export async function ensureRegistry(cfg: TxmonConfig, log: Log): Promise<ServiceStatus> {
  const a = registryAddress(cfg);
  const p = registryPaths(cfg);
  const current = await registryStatus(cfg);
  if (current.running) return current;
  if (current.pid !== undefined) {
    log(`registry: pid ${current.pid} is still starting, waiting ...`);
    await waitReady(cfg, current.pid);
    return registryStatus(cfg);
  }
  if (await tcpOpen(a.host, a.port)) {
    throw new ServiceError(
      `registry: port ${a.port} is taken by another process that does not answer as a schema registry; stop it or set TXMON_REGISTRY_URL`,
    );
  }
  const mgmt = cfg.services.registryManagementPort;
  if (await tcpOpen(a.host, mgmt)) {
    throw new ServiceError(`registry: management port ${mgmt} is taken by another process; set TXMON_REGISTRY_MANAGEMENT_PORT`);
  }
  if (!isLocalHost(a.host)) {
    throw new ServiceError(`registry: ${cfg.registryUrl} does not answer and is not local; check TXMON_REGISTRY_URL`);
  }
  const runtime = await chooseRuntime(cfg, log);
  for (const dir of [p.dir, p.logs]) mkdirSync(dir, { recursive: true });
  await ensureDist(cfg, runtime.version, log);
  if (runtime.persistent) {
    try {
      await createDatabase(cfg, REGISTRY_DATABASE);
    } catch (err) {
      throw new ServiceError(
        `registry: cannot create database ${REGISTRY_DATABASE} (TXMON_MYSQL_URL): ${errorMessage(err)}`,
        err,
      );
    }
  }
  const launcher = launcherJar(p.dist);
  const started = Date.now();
  const launch = registryLaunch(cfg, launcher.jar, runtime.persistent);
  const pid = spawnDetached({
    command: runtime.java.bin,
    args: launch.args,
    env: launch.env,
    cwd: launcher.cwd,
    logFile: p.log,
    pidFile: p.pid,
  });
  log(`registry: starting Apicurio ${runtime.version} pid ${pid} on ${formatHostPort(a)} (Java ${runtime.java.major}) ...`);
  await waitReady(cfg, pid);
  log(`registry: started pid ${pid} in ${secondsSince(started)} s`);
  return registryStatus(cfg);
}

/** The pid file and the marker that proves a pid is our registry (for `services down`). */
export function registryPidFile(cfg: TxmonConfig): { pidFile: string; marker: string } {
  return { pidFile: registryPaths(cfg).pid, marker: MARKER };
}
