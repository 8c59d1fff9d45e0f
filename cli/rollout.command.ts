/** `txmon rollout …`: staged rollouts of a rule set or a model (started by `txmon rules|model promote <v> --canary S`). */
import { type Command } from 'commander';
import { type CliContext } from './context.ts';

export function register(program: Command, ctx: CliContext): void {
  const { context } = ctx;
  const rollout = program
    .command('rollout')
    .description(
      'Staged rollouts: a rule set or model promoted with --canary S decides for that share of accounts (chosen by a hash of the account id) while the rest stay on what is active; grow it, complete it into a promotion, or roll it back. The ingest processors roll it back by themselves when a guardrail is crossed (TXMON_ROLLOUT_*). Every step is audited.',
    );
  rollout
    .command('status')
    .description('The running rollout (share, arms’ decisions and alert rates, guardrails) and the recent ones.')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const { cfg } = context();
      const { statusCommand } = await import('./rollout.actions.ts');
      process.stdout.write(await statusCommand(cfg, Boolean(o.json)));
    });
  rollout
    .command('grow')
    .description('Grow the running rollout to a larger share of accounts (those in it stay in it). Audited.')
    .argument('<share>', 'the new share: 25%, 50%, 100% (or a fraction: 0.25)')
    .option('--actor <name>', 'who, for the audit log (default: the OS user)')
    .option('--reason <text>', 'why, for the audit log')
    .action(async (share: string, o: { actor?: string; reason?: string }) => {
      const { cfg } = context();
      const { stepCommand } = await import('./rollout.actions.ts');
      process.stdout.write(await stepCommand(cfg, 'grow', share, o));
    });
  for (const [action, description] of [
    ['complete', 'Complete the running rollout: its rule set or model is promoted for every account. Audited.'],
    ['rollback', 'Roll the running rollout back: every account back on what is active. Audited.'],
  ] as const)
    rollout
      .command(action)
      .description(description)
      .option('--actor <name>', 'who, for the audit log (default: the OS user)')
      .option('--reason <text>', 'why, for the audit log')
      .action(async (o: { actor?: string; reason?: string }) => {
        const { cfg } = context();
        const { stepCommand } = await import('./rollout.actions.ts');
        process.stdout.write(await stepCommand(cfg, action, undefined, o));
      });
}
