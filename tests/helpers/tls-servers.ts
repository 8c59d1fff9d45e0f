/**
 * Throwaway TLS listeners for the TLS end-to-end test, each a child process of the test on free
 * ports with its own files under the test CA's directory: a Redis with a TLS port only (and an ACL
 * user), a MariaDB with its own data directory and a user that must use TLS, and a single-node Kafka
 * (KRaft) from the jars `txmon services up` downloaded, with a SASL_SSL listener (SCRAM-SHA-512).
 * The shared services are never touched. stop() kills only the process it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ensureKafkaJars, kafkaPaths } from '../../services/kafka.ts';
import { requireJava } from '../../services/java.ts';
import { runCommand, tailFile, tcpOpen, waitUntil } from '../../services/process.ts';
import type { TxmonConfig } from '../../config/config.ts';
import type { TestCa } from './tls-ca.ts';

export interface TestServer {
  port: number;
  stop(): Promise<void>;
}

/** Ports freePort has handed out in this process: each is closed until its server binds it. */
const handedOut = new Set<number>();

/**
 * A port nobody listens on right now, and not one this process handed out before: the servers of
 * a test start seconds after their ports are chosen (MariaDB installs its data directory first), and
 * the kernel may offer a closed port again meanwhile (about one run in a thousand here, which then
 * failed on two listeners on one port).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function start(command: string, args: string[], logFile: string): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  child.stdout?.on('data', (b: Buffer) => chunks.push(b));
  child.stderr?.on('data', (b: Buffer) => chunks.push(b));
  child.on('exit', () => writeFileSync(logFile, Buffer.concat(chunks)));
  return child;
}

/** SIGTERM, then SIGKILL after `ms`; resolves when the child has exited. */
function stopChild(child: ChildProcess, ms = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function ready(child: ChildProcess, what: string, probe: () => Promise<boolean>, timeoutMs: number, log: string) {
  const r = await waitUntil(probe, {
    timeoutMs,
    intervalMs: 250,
    abort: () => (child.exitCode !== null ? `${what} exited with ${child.exitCode}` : undefined),
  });
  if (!r.ok) {
    await stopChild(child);
    throw new Error(`${what}: ${r.reason}; see ${log}\n${await tailFile(log, 20)}`);
  }
}

/** redis-server with TLS only (no plaintext port) and an ACL user `txmon` with `password`. */
export async function startRedisTls(ca: TestCa, password: string): Promise<TestServer> {
  const port = await freePort();
  const dir = join(ca.dir, 'redis');
  mkdirSync(dir, { recursive: true });
  const log = join(dir, 'redis.log');
  const acl = join(dir, 'users.acl');
  writeFileSync(acl, `user default off\nuser txmon on >${password} ~* &* +@all\n`, { mode: 0o600 });
  const child = start(
    'redis-server',
    [
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--tls-cert-file',
      ca.serverCertFile,
      '--tls-key-file',
      ca.serverKeyFile,
      '--tls-ca-cert-file',
      ca.caFile,
      '--tls-auth-clients',
      'no',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--aclfile',
      acl,
    ],
    log,
  );
  await ready(child, 'redis-server --tls-port', () => tcpOpen('127.0.0.1', port), 15_000, log);
  return { port, stop: () => stopChild(child) };
}

/**
 * A throwaway mariadbd with its own data directory, TLS, and a user `txmon`@'%' that is refused
 * without TLS (REQUIRE SSL). `databases` are created for the test.
 */
export async function startMariadbTls(ca: TestCa, password: string, databases: string[]): Promise<TestServer> {
  const port = await freePort();
  const dir = join(ca.dir, 'mariadb');
  const data = join(dir, 'data');
  mkdirSync(dir, { recursive: true });
  const install = await runCommand(
    'mariadb-install-db',
    ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--user=root'],
    { timeoutMs: 60_000 },
  );
  if (install.code !== 0) throw new Error(`mariadb-install-db failed: ${install.output.slice(-2000)}`);
  const init = join(dir, 'init.sql');
  writeFileSync(
    init,
    [
      `CREATE USER 'txmon'@'%' IDENTIFIED BY '${password}' REQUIRE SSL;`,
      `GRANT ALL PRIVILEGES ON *.* TO 'txmon'@'%';`,
      ...databases.map((d) => `CREATE DATABASE \`${d}\`;`),
      '',
    ].join('\n'),
  );
  const log = join(dir, 'mariadb.log');
  const child = start(
    '/usr/sbin/mariadbd',
    [
      '--no-defaults',
      `--datadir=${data}`,
      `--socket=${join(dir, 'mysqld.sock')}`,
      `--pid-file=${join(dir, 'mysqld.pid')}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      '--user=root',
      '--skip-name-resolve',
      `--init-file=${init}`,
      `--ssl-ca=${ca.caFile}`,
      `--ssl-cert=${ca.serverCertFile}`,
      `--ssl-key=${ca.serverKeyFile}`,
      '--innodb-buffer-pool-size=32M',
      '--skip-log-bin',
    ],
    log,
  );
  await ready(child, 'mariadbd', () => tcpOpen('127.0.0.1', port), 30_000, log);
  return { port, stop: () => stopChild(child, 20_000) };
}

/**
 * A single-node Kafka (broker + controller) whose client listener is SASL_SSL with SCRAM-SHA-512
 * user `txmon`/`password` (created at format time); inter-broker and controller traffic stay on
 * loopback plaintext listeners of their own.
 */
export async function startKafkaSaslSsl(cfg: TxmonConfig, ca: TestCa, password: string): Promise<TestServer> {
  const [port, internal, controller] = [await freePort(), await freePort(), await freePort()];
  const dir = join(ca.dir, 'kafka');
  const data = join(dir, 'data');
  mkdirSync(data, { recursive: true });
  // The jars of the shared broker; resolved here too, for a broker txmon did not start (CI in another folder, a cluster of its own).
  await ensureKafkaJars(cfg, () => {});
  const libs = kafkaPaths(cfg).libs;
  const java = await requireJava(cfg.services.javaHome, 17, 'kafka (TLS test)');
  const props = join(dir, 'server.properties');
  writeFileSync(
    props,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controller}`,
      `listeners=SASL_SSL://127.0.0.1:${port},INTERNAL://127.0.0.1:${internal},CONTROLLER://127.0.0.1:${controller}`,
      `advertised.listeners=SASL_SSL://127.0.0.1:${port},INTERNAL://127.0.0.1:${internal}`,
      'listener.security.protocol.map=SASL_SSL:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=INTERNAL',
      'sasl.enabled.mechanisms=SCRAM-SHA-512',
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'ssl.keystore.type=PEM',
      `ssl.keystore.location=${ca.serverPemFile}`,
      `log.dirs=${data}`,
      'num.partitions=1',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      '',
    ].join('\n'),
  );
  const log4j = join(dir, 'log4j2.properties');
  writeFileSync(
    log4j,
    'status = warn\nrootLogger.level = WARN\nrootLogger.appenderRef.c.ref = c\nappender.c.type = Console\nappender.c.name = c\nappender.c.layout.type = PatternLayout\nappender.c.layout.pattern = [%d] %p %m (%c)%n\n',
  );
  const jvm = (main: string, args: string[]) => [
    '-Xmx384m',
    '-XX:TieredStopAtLevel=1',
    `-Dlog4j2.configurationFile=${log4j}`,
    '-cp',
    join(libs, '*'),
    main,
    ...args,
  ];
  // A random id; passed as `--cluster-id=<id>` because one id in 64 starts with `-`, which the
  // tool's argument parser would read as an option (a CI run failed on exactly that).
  const clusterId = randomBytes(16).toString('base64url');
  const format = await runCommand(
    java.bin,
    jvm('kafka.tools.StorageTool', [
      'format',
      `--cluster-id=${clusterId}`,
      '-c',
      props,
      '--add-scram',
      `SCRAM-SHA-512=[name=txmon,password=${password}]`,
    ]),
    { timeoutMs: 60_000 },
  );
  if (format.code !== 0) throw new Error(`kafka StorageTool format failed: ${format.output.slice(-2000)}`);
  const log = join(dir, 'kafka.log');
  const child = start(java.bin, jvm('kafka.Kafka', [props]), log);
  await ready(child, 'kafka (SASL_SSL)', () => tcpOpen('127.0.0.1', port), 60_000, log);
  return { port, stop: () => stopChild(child, 15_000) };
}

/**
 * A three-master Redis Cluster with TLS on the client and the cluster bus (no plaintext port) and
 * the ACL user `txmon` with `password`.
 */
export async function startRedisClusterTls(ca: TestCa, password: string): Promise<{ ports: number[]; stop(): Promise<void> }> {
  const dir = join(ca.dir, 'redis-cluster');
  mkdirSync(dir, { recursive: true });
  const acl = join(dir, 'users.acl');
  writeFileSync(acl, `user default off\nuser txmon on >${password} ~* &* +@all\n`, { mode: 0o600 });
  // Each node's bus port is given (`cluster-port`), not left at port + 10000: that one could be in
  // the ephemeral range and held by an outgoing connection, which a probe that connects does not
  // see (a node then exited with "bind: Address already in use" in a CI run).
  const taken = new Set<number>();
  while (taken.size < 6) taken.add(await freePort());
  const ports = [...taken].slice(0, 3);
  const busPorts = new Map(ports.map((port, i) => [port, [...taken][3 + i] as number]));
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map((c) => stopChild(c)));
  };
  const tls = ['--tls-cert-file', ca.serverCertFile, '--tls-key-file', ca.serverKeyFile, '--tls-ca-cert-file', ca.caFile];
  try {
    for (const port of ports) {
      const log = join(dir, `${port}.log`);
      const child = start(
        'redis-server',
        [
          '--port',
          '0',
          '--tls-port',
          String(port),
          '--bind',
          '127.0.0.1',
          ...tls,
          '--tls-auth-clients',
          'no',
          '--tls-cluster',
          'yes',
          '--cluster-enabled',
          'yes',
          '--cluster-port',
          String(busPorts.get(port)),
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
          '--aclfile',
          acl,
        ],
        log,
      );
      children.push(child);
      await ready(child, `redis cluster node ${port}`, () => tcpOpen('127.0.0.1', port), 15_000, log);
    }
    const create = await runCommand(
      'redis-cli',
      [
        '--tls',
        '--cacert',
        ca.caFile,
        '--user',
        'txmon',
        '--pass',
        password,
        '--no-auth-warning',
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeoutMs: 60_000 },
    );
    if (create.code !== 0) throw new Error(`redis-cli --cluster create failed: ${create.output.slice(-2000)}`);
    // Every node must see the whole cluster before a client asks any of them for the slot map.
    const ok = await waitUntil(
      async () => {
        for (const port of ports) {
          const info = await runCommand('redis-cli', [
            '--tls',
            '--cacert',
            ca.caFile,
            '--user',
            'txmon',
            '--pass',
            password,
            '--no-auth-warning',
            '-p',
            String(port),
            'cluster',
            'info',
          ]);
          if (!info.output.includes('cluster_state:ok') || !info.output.includes('cluster_known_nodes:3')) return false;
        }
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    if (!ok.ok) throw new Error(`redis cluster (TLS): ${ok.reason}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { ports, stop };
}
