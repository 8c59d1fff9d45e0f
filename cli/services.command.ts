/**
 * `txmon services up|down|status|logs`: the local Kafka broker, schema registry, MariaDB and Redis;
 * with `--cluster`, three Kafka brokers and a Redis Cluster beside them (services/cluster.ts).
 */
import { type Command, InvalidArgumentError } from 'commander';
import { type CliContext, int } from './context.ts';

export function register(program: Command, ctx: CliContext): void {
  const { context, say } = ctx;
  const services = program
    .command('services')
    .description('Start, stop and inspect the local Kafka broker, schema registry, MariaDB and Redis.');
  services
    .command('up')
    .description(
      'Start whatever is not running (idempotent) and wait until every service is ready. With --cluster, also three Kafka brokers (KRaft, replication factor 3, min.insync.replicas 2) and a Redis Cluster of three masters with a replica each, and print the settings that point txmon at them.',
    )
    .option('--cluster', 'also start the three-broker Kafka cluster and the Redis Cluster (ports 19092-19097, 17001-17006)')
    .action(async (o: { cluster?: boolean }) => {
      const { cfg } = context();
      const { servicesUp } = await import('../services/manager.ts');
      const statuses = await servicesUp(cfg, say);
      for (const s of statuses) say(`${s.name.padEnd(9)} ${s.running ? 'up  ' : 'DOWN'} ${s.address} ${s.detail}`);
      if (o.cluster) {
        const { clusterUp, clusterEnv } = await import('../services/cluster.ts');
        for (const s of await clusterUp(cfg, say))
          say(`${s.name.padEnd(13)} ${s.running ? 'up  ' : 'DOWN'} ${s.address} ${s.detail}`);
        say('# point txmon at the cluster (the registry, MariaDB and the API stay as they are):');
        for (const [k, v] of Object.entries(clusterEnv())) say(`export ${k}=${v}`);
      }
    });
  services
    .command('down')
    .description(
      'Stop the services txmon started (Kafka, registry, and the cluster’s brokers and Redis nodes if it runs); data is kept. The machine’s MariaDB and Redis are left alone.',
    )
    .action(async () => {
      const { cfg } = context();
      const { servicesDown } = await import('../services/manager.ts');
      const { clusterDown, clusterStarted } = await import('../services/cluster.ts');
      await servicesDown(cfg, say);
      if (await clusterStarted(cfg)) await clusterDown(cfg, say);
    });
  services
    .command('status')
    .description(
      'Show each service: running, address, who started it; the cluster’s too when it was started (or with --cluster). Exit code 1 if any is down.',
    )
    .option('--cluster', 'show the Kafka cluster and the Redis Cluster even when they were never started')
    .action(async (o: { cluster?: boolean }) => {
      const { cfg } = context();
      const { servicesStatus } = await import('../services/manager.ts');
      const { clusterStarted, clusterStatus } = await import('../services/cluster.ts');
      const statuses = await servicesStatus(cfg);
      for (const s of statuses)
        say(
          `${s.name.padEnd(9)} ${s.running ? 'up  ' : 'DOWN'} ${s.address} ${s.managed ? '(started by txmon)' : ''} ${s.detail}`,
        );
      let down = statuses.some((s) => !s.running);
      if (o.cluster || (await clusterStarted(cfg))) {
        const cluster = await clusterStatus(cfg);
        for (const s of cluster) say(`${s.name.padEnd(13)} ${s.running ? 'up  ' : 'DOWN'} ${s.address} ${s.detail}`);
        down ||= cluster.some((s) => !s.running);
      }
      if (down) process.exitCode = 1;
    });
  services
    .command('logs')
    .description('Print the log file path and its last lines for kafka or registry.')
    .argument('<service>', 'kafka or registry')
    .option('-n, --lines <n>', 'lines to show', int('--lines', 1), 50)
    .action(async (service: string, o: { lines: number }) => {
      if (service !== 'kafka' && service !== 'registry') throw new InvalidArgumentError('service must be kafka or registry');
      const { cfg } = context();
      const { serviceLogPath } = await import('../services/manager.ts');
      const { readFileSync, existsSync } = await import('node:fs');
      const path = serviceLogPath(cfg, service);
      say(`# ${path}`);
      if (!existsSync(path)) {
        say('(no log yet)');
        return;
      }
      process.stdout.write(
        readFileSync(path, 'utf8')
          .split('\n')
          .slice(-o.lines - 1)
          .join('\n'),
      );
    });
}
