/** `txmon simulate`: synthetic transactions (and settlement lines) with their ground truth. */
import { type Command } from 'commander';
import { type CliContext, int, rate } from './context.ts';
import type { SimulateCliOptions } from './simulate.actions.ts';

export function register(program: Command, ctx: CliContext): void {
  const { context, say } = ctx;
  program
    .command('simulate')
    .description(
      'Produce synthetic transactions (Avro, registry framing) with duplicates, disorder, late and malformed records, and labelled fraud.',
    )
    .option(
      '--count <n>',
      'original transactions to generate (duplicates and malformed records come on top)',
      int('--count', 1),
      50_000,
    )
    .option('--seed <n>', 'random seed: the same seed gives the same records', int('--seed'), 42)
    .option('--rate <n>', 'records per second, 0 = as fast as possible', int('--rate'), 0)
    .option('--accounts <n>', 'number of accounts', int('--accounts', 1), 2_000)
    .option('--merchants <n>', 'number of merchants', int('--merchants', 1), 300)
    .option('--cards-per-account <n>', 'cards per account', int('--cards-per-account', 1), 2)
    .option(
      '--tx-per-account-day <n>',
      'mean purchases per account per day of event time (sets how fast event time advances)',
      int('--tx-per-account-day', 1),
      20,
    )
    .option('--currencies <list>', 'comma-separated ISO 4217 codes', 'USD,EUR,GBP,JPY,KWD')
    .option('--duplicate-rate <r>', 'share of exact re-sends (producer retries)', rate('--duplicate-rate'), 0.03)
    .option('--out-of-order-rate <r>', 'share of events a few seconds out of order', rate('--out-of-order-rate'), 0.02)
    .option('--late-rate <r>', 'share of events hours late', rate('--late-rate'), 0.005)
    .option('--malformed-rate <r>', 'share of undecodable or invalid records', rate('--malformed-rate'), 0.01)
    .option('--fraud-rate <r>', 'share of transactions in labelled fraud patterns', rate('--fraud-rate'), 0.01)
    .option('--start <iso>', 'event time of the first transaction', '2026-01-01T00:00:00Z')
    .option('--ground-truth <file>', 'where to write the ground truth (JSON lines)', 'ground-truth.jsonl')
    .option(
      '--refdata-dir <dir>',
      'also write the simulated world as accounts.csv, merchants.csv, bins.csv, fx.csv for `txmon refdata load`',
    )
    .option(
      '--settlements',
      'then produce settlement lines for the simulated transactions (split, batched, and mismatched at the rates below)',
    )
    .option(
      '--settlements-ground-truth <file>',
      'where to write the settlement ground truth (JSON lines; default settlements-ground-truth.jsonl beside --ground-truth)',
    )
    .option('--settlement-missing-rate <r>', 'share of references never settled', rate('--settlement-missing-rate'), 0.02)
    .option('--settlement-duplicate-rate <r>', 'share settled twice', rate('--settlement-duplicate-rate'), 0.01)
    .option(
      '--settlement-amount-off-rate <r>',
      'share settled off by more than the tolerance',
      rate('--settlement-amount-off-rate'),
      0.01,
    )
    .option(
      '--settlement-wrong-currency-rate <r>',
      'share settled in another currency',
      rate('--settlement-wrong-currency-rate'),
      0.005,
    )
    .option('--settlement-split-rate <r>', 'share settled in 2-3 lines (1:N)', rate('--settlement-split-rate'), 0.03)
    .option('--settlement-late-rate <r>', 'share settled after the deadline', rate('--settlement-late-rate'), 0.01)
    .option(
      '--settlement-within-tolerance-rate <r>',
      'share settled off by at most the tolerance (when TXMON_RECON_TOLERANCE_* allow any)',
      rate('--settlement-within-tolerance-rate'),
      0.01,
    )
    .option(
      '--settlement-unknown-rate <r>',
      'lines naming unknown references, per reference',
      rate('--settlement-unknown-rate'),
      0.005,
    )
    .action(async (o: SimulateCliOptions) => {
      const { cfg, logger } = context();
      const { runSimulate } = await import('./simulate.actions.ts');
      // Commander also fills in the --settlement* options, which runSimulate reads as SettlementCliOptions.
      const summary = await runSimulate(cfg, logger, o, say);
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    });
}
