/** `txmon recon report|resolve`: reconciliation results and the closing of exceptions. */
import { type Command, Option } from 'commander';
import { type CliContext, int } from './context.ts';

export function register(program: Command, ctx: CliContext): void {
  const { context, say } = ctx;
  const recon = program.command('recon').description('Reconciliation of settlements against transactions.');
  recon
    .command('report')
    .description(
      'Groups, expected and settled amounts per status and currency for a business date (the first transaction’s UTC day, or the settlement date of a line without one); optionally the exceptions as CSV.',
    )
    .option('--date <YYYY-MM-DD>', 'business date (default: every date)')
    .option('--exceptions-csv <file>', "write the date's exceptions, one line per reference, to this CSV file ('-' for stdout)")
    .option('--json', 'print the report as JSON on stdout')
    .action(async (o: { date?: string; exceptionsCsv?: string; json?: boolean }) => {
      const { cfg } = context();
      const { runReconReport } = await import('./recon.actions.ts');
      await runReconReport(cfg, o, say);
    });
  recon
    .command('resolve')
    .description(
      'Close an open exception: RESOLVED (fixed) or ACCEPTED (written off), by a named actor, recorded in the audit log. Exit code 2 if the reference is unknown, not an exception, or already closed.',
    )
    .argument('<reference>', 'the transaction reference of the exception')
    .addOption(new Option('--as <resolution>', 'how it was closed').choices(['resolved', 'accepted']).makeOptionMandatory())
    .requiredOption('--actor <name>', 'who closes it (recorded in the audit log)')
    .option('--note <text>', 'why (recorded in the audit log)')
    .option(
      '--revision <n>',
      'the revision you looked at (txmon recon report --exceptions-csv): refused if the group changed since',
      int('--revision', 1),
    )
    .action(async (reference: string, o: { as: 'resolved' | 'accepted'; actor: string; note?: string; revision?: number }) => {
      const { cfg } = context();
      const { runReconResolve } = await import('./recon.actions.ts');
      await runReconResolve(cfg, reference, o, say);
    });
}
