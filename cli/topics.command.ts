/** `txmon topics apply`: topics as code (topics/topics.ts) created, and drift reported. */
import { type Command } from 'commander';
import { type CliContext } from './context.ts';

export function register(program: Command, ctx: CliContext): void {
  const { context, say } = ctx;
  program
    .command('topics')
    .description('Topics as code (topics/topics.ts).')
    .command('apply')
    .description('Create missing topics and report drift between code and broker. Exit code 3 on drift.')
    .action(async () => {
      const { cfg, logger } = context();
      const { createKafka } = await import('../platform/kafka.ts');
      const { applyTopics } = await import('../topics/apply.ts');
      const admin = createKafka(cfg, logger).admin();
      await admin.connect();
      try {
        const reports = await applyTopics(admin, cfg.topicNamespace, say, cfg.topicReplication);
        if (reports.some((r) => r.drift.length > 0)) process.exitCode = 3;
      } finally {
        await admin.disconnect();
      }
    });
}
