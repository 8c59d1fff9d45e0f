/** `txmon refdata load`: reference data for enrichment, from CSV files. */
import { type Command, InvalidArgumentError } from 'commander';
import { type CliContext } from './context.ts';

export function register(program: Command, ctx: CliContext): void {
  const { context, say } = ctx;
  program
    .command('refdata')
    .description('Reference data for enrichment (accounts, merchants, card BINs, FX rates).')
    .command('load')
    .description(
      'Validate CSV files line by line and upsert the good rows; bad lines are listed with their line numbers (exit code 2).',
    )
    .option('--accounts <file>', 'CSV with header account_id,opened_at,home_country,risk_tier,time_zone')
    .option('--merchants <file>', 'CSV with header merchant_id,mcc,country,risk_tier')
    .option('--bins <file>', 'CSV with header bin,issuing_country')
    .option('--fx <file>', 'CSV with header currency,base_currency,valid_from,rate (rate = units of base per unit of currency)')
    .action(async (o: Partial<Record<'accounts' | 'merchants' | 'bins' | 'fx', string>>) => {
      const files = Object.entries(o).filter(([, f]) => f) as Array<['accounts' | 'merchants' | 'bins' | 'fx', string]>;
      if (files.length === 0) throw new InvalidArgumentError('give at least one of --accounts, --merchants, --bins, --fx');
      const { cfg } = context();
      const { createPool } = await import('../platform/mysql.ts');
      const { loadCsv } = await import('../refdata/load.ts');
      const pool = createPool(cfg);
      try {
        for (const [kind, file] of files) {
          const r = await loadCsv(pool, kind, file, say);
          say(`refdata: ${kind} from ${file}: ${r.upserted} of ${r.rows} rows loaded, ${r.problems.length} rejected`);
          for (const p of r.problems.slice(0, 50)) say(`  line ${p.line}: ${p.message}`);
          if (r.problems.length > 50) say(`  ... and ${r.problems.length - 50} more`);
          if (r.problems.length > 0) process.exitCode = 2;
        }
      } finally {
        await pool.end();
      }
    });
}
