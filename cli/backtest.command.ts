/** `txmon backtest`: what a candidate rule set, model or threshold would have decided on stored history. */
import { InvalidArgumentError, type Command } from 'commander';
import { type CliContext, rate } from './context.ts';
import type { BacktestCliOptions } from './backtest.actions.ts';

export function register(program: Command, ctx: CliContext): void {
  const { context, say } = ctx;
  program
    .command('backtest')
    .description(
      'Decide the stored transactions again with a candidate (rules, model, thresholds) from their feature snapshots and compare with the decisions that were made: the transitions (ALLOW→REVIEW, …), alerts per day, hits per rule, and on labelled transactions precision, recall and PR AUC before and after. The live rules and model reproduce the stored decisions exactly.',
    )
    .option(
      '--rules <file|version>',
      "the candidate rule set: a rule file, or a published version (txmon rules list); default: the rules in force (the registry's active rule set, else TXMON_RULES_FILE)",
    )
    .option('--model <version>', "the candidate model (default: the active one; 'none': rules alone)")
    .option('--threshold <score>', "the model's alert threshold (default: the model's own)", rate('--threshold'))
    .option(
      '--block-score <score>',
      "the model score that blocks by itself (default: TXMON_DECISION_BLOCK_SCORE; 'none': the model alone never blocks)",
      blockScore,
    )
    .option('--from <iso>', 'event time from (inclusive; default: the first stored transaction)')
    .option('--to <iso>', 'event time to (exclusive; default: after the last)')
    .option('--changed-csv <file>', "write every transaction whose decision changes to this CSV file ('-' for stdout)")
    .option('--json', 'print the report as one JSON object on stdout')
    .action(async (o: BacktestCliOptions) => {
      const { cfg } = context();
      const { backtestCommand } = await import('./backtest.actions.ts');
      await backtestCommand(cfg, o, say);
    });
}

/** --block-score: a score in (0, 1], or 'none'. */
function blockScore(value: string): number | 'none' {
  if (value === 'none') return 'none';
  const n = Number(value);
  if (value.trim() === '' || !(n > 0 && n <= 1))
    throw new InvalidArgumentError("--block-score must be a number in (0, 1] or 'none'");
  return n;
}
