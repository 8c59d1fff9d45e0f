/** `txmon services up|down|status|logs`: the local Kafka broker, schema registry, MariaDB and Redis. */
import { type Command, InvalidArgumentError } from 'commander';
import { type CliContext, int } from './context.ts';

export function register(program: Command, ctx: CliContext): void {
  const { context, say } = ctx;
  const services = program
    .command('services')
    .description('Start, stop and inspect the local Kafka broker, schema registry, MariaDB and Redis.');
  services
    .command('up')
    .description('Start whatever is not running (idempotent) and wait until every service is ready.')
    .action(async () => {
      const { cfg } = context();
      const { servicesUp } = await import('../services/manager.ts');
      const statuses = await servicesUp(cfg, say);
      for (const s of statuses) say(`${s.name.padEnd(9)} ${s.running ? 'up  ' : 'DOWN'} ${s.address} ${s.detail}`);
    });
  services
    .command('down')
    .description(
      'Stop the services txmon started (Kafka, registry); data is kept. The machine’s MariaDB and Redis are left alone.',
    )
    .action(async () => {
      const { cfg } = context();
      const { servicesDown } = await import('../services/manager.ts');
      await servicesDown(cfg, say);
    });
  services
    .command('status')
    .description('Show each service: running, address, who started it. Exit code 1 if any is down.')
    .action(async () => {
      const { cfg } = context();
      const { servicesStatus } = await import('../services/manager.ts');
      const statuses = await servicesStatus(cfg);
      for (const s of statuses)
        say(
          `${s.name.padEnd(9)} ${s.running ? 'up  ' : 'DOWN'} ${s.address} ${s.managed ? '(started by txmon)' : ''} ${s.detail}`,
        );
      if (statuses.some((s) => !s.running)) process.exitCode = 1;
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
