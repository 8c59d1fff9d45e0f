/** `txmon rules …`: rule sets published, versioned and audited like models. */
import { type Command } from 'commander';
import { type CliContext, lifecycleCommands } from './context.ts';

export function register(program: Command, ctx: CliContext): void {
  const { context, say } = ctx;
  const rules = program
    .command('rules')
    .description(
      'Rule sets versioned in MySQL: publish a rule file, shadow it, promote it, roll back. The processors decide with the active rule set (within TXMON_RULES_RELOAD_MS, no restart), else with TXMON_RULES_FILE.',
    );
  rules
    .command('publish')
    .description(
      'Validate a rule file as the processors would and store it, byte for byte, as a candidate version (<version>@<SHA-256 prefix>), with its author and reason. Publishing the same text again is the same version. Audited.',
    )
    .argument('<file>', 'the rule file (the format of rules/rules.json, docs/detection.md)')
    .requiredOption('--reason <text>', 'why this change, for the audit log and `txmon rules list`')
    .option('--actor <name>', 'who publishes (default: the OS user)')
    .action(async (file: string, o: { reason: string; actor?: string }) => {
      const { cfg } = context();
      const { publishCommand } = await import('./rules.actions.ts');
      process.stdout.write(await publishCommand(cfg, file, o, say));
    });
  rules
    .command('list')
    .description('Every published rule set with its state, author, reason and time, newest first.')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const { cfg } = context();
      const { listCommand } = await import('./rules.actions.ts');
      process.stdout.write(await listCommand(cfg, Boolean(o.json)));
    });
  rules
    .command('show')
    .description('Print a published rule set as it was published (to edit it and publish again).')
    .argument('<version>', 'rule-set version (txmon rules list)')
    .action(async (version: string) => {
      const { cfg } = context();
      const { showCommand } = await import('./rules.actions.ts');
      process.stdout.write(await showCommand(cfg, version));
    });
  lifecycleCommands(
    rules,
    [
      [
        'promote',
        'Make <version> the rule set the processors decide with (the active one is retired); running processors switch within TXMON_RULES_RELOAD_MS. First it backtests <version> over the latest TXMON_PROMOTION_CHECK_DAYS of stored decisions and warns about segments whose alert rate moves by more than TXMON_FAIRNESS_FACTOR.',
      ],
      [
        'shadow',
        'Decide with <version> beside the rules in force, without acting: each transaction’s shadow decision is counted (txmon rules shadow-report) and exported as txmon_detection_shadow_rules_decisions_total. A rule set already in shadow goes back to candidate.',
      ],
    ],
    'rule-set version (txmon rules list)',
    async (action, version, o) => {
      const { cfg } = context();
      const { lifecycleCommand } = await import('./rules.actions.ts');
      process.stdout.write(await lifecycleCommand(cfg, action, version, o, say));
    },
  );
  rules
    .command('shadow-report')
    .description(
      'What <version> decided in shadow so far beside the live decisions: the transition table and alerts per day (the backtest’s shape; compare with txmon backtest --rules <version> over the same traffic).',
    )
    .argument('<version>', 'rule-set version (txmon rules list)')
    .option('--json', 'print JSON')
    .action(async (version: string, o: { json?: boolean }) => {
      const { cfg } = context();
      const { shadowReportCommand } = await import('./rules.actions.ts');
      process.stdout.write(await shadowReportCommand(cfg, version, Boolean(o.json)));
    });
  rules
    .command('rollback')
    .description('Retire the active rule set and reactivate the one active before it. Audited.')
    .option('--actor <name>', 'who, for the audit log (default: the OS user)')
    .option('--reason <text>', 'why, for the audit log')
    .action(async (o: { actor?: string; reason?: string }) => {
      const { cfg } = context();
      const { lifecycleCommand } = await import('./rules.actions.ts');
      process.stdout.write(await lifecycleCommand(cfg, 'rollback', undefined, o));
    });
}
