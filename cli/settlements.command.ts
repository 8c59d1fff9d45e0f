/** `txmon settlements import`: settlement files from acquirers and banks. */
import { type Command } from 'commander';
import { type CliContext } from './context.ts';

export function register(program: Command, ctx: CliContext): void {
  const { context, say } = ctx;
  program
    .command('settlements')
    .description('Settlement files from acquirers and banks, for reconciliation.')
    .command('import')
    .description(
      'Validate a settlement CSV line by line, publish the good lines to the settlements topic (Avro, key transaction_reference) and the bad ones, with their line numbers, to its dead-letter topic. Exit code 2 when some lines were bad (the good ones are still published). Importing the same file again is harmless. See docs/settlements-import.md.',
    )
    .argument(
      '<file>',
      'CSV with a header row: settlement_id, transaction_reference, amount_minor or amount, currency, settlement_date[, batch_id, fee_minor or fee, event_time]',
    )
    .option('--dry-run', 'validate and report only; publish nothing')
    .option('--json', 'print the summary as JSON on stdout')
    .option('--batch-id <id>', "batch_id of lines that give none (default: file-<first 12 hex digits of the file's SHA-256>)")
    .action(async (file: string, o: { dryRun?: boolean; json?: boolean; batchId?: string }) => {
      const { cfg, logger } = context();
      const { settlementsImportCommand } = await import('./settlements.actions.ts');
      process.exitCode = await settlementsImportCommand(cfg, logger, file, o, say);
    });
}
