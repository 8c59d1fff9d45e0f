/** The `txmon` command line. Each subcommand loads the config once and passes it down. */
import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import { CONFIG_KEYS, loadConfig, type TxmonConfig } from '../config/config.ts';
import { TxmonError, errorMessage, mysqlLoginRefused } from '../platform/errors.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { applyHeapGrowingPercent } from '../platform/heap-policy.ts';
import type { TrainCliOptions } from './model.command.ts';
import type { SimulateCliOptions } from './simulate.command.ts';

const say = (line: string) => process.stderr.write(`${line}\n`);

function context(): { cfg: TxmonConfig; logger: Logger } {
  const cfg = loadConfig(process.env);
  return { cfg, logger: createLogger({ level: cfg.log.level, pretty: cfg.log.pretty || Boolean(process.stderr.isTTY) }) };
}

const int =
  (name: string, min = 0) =>
  (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };
const rate = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`${name} must be a number between 0 and 1`);
  return n;
};

/** Builds the program (exported for tests of --help). */
export function buildProgram(): Command {
  const program = new Command('txmon')
    .description('Streaming transaction monitoring: Kafka + Avro in, dedup, state, scoring, alerts, reconciliation, MySQL out.')
    .showHelpAfterError()
    .addHelpText(
      'after',
      `\nConfiguration comes from environment variables (defaults are local):\n  ${CONFIG_KEYS.join('\n  ')}\nSee docs/configuration.md.`,
    );

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
        const reports = await applyTopics(admin, cfg.topicNamespace, say);
        if (reports.some((r) => r.drift.length > 0)) process.exitCode = 3;
      } finally {
        await admin.disconnect();
      }
    });

  program
    .command('schemas')
    .description('Avro contracts (schemas/*.avsc).')
    .command('register')
    .description('Register every schema under its topic subject (<topic>-value) with BACKWARD compatibility.')
    .action(async () => {
      const { cfg } = context();
      const { registerAll } = await import('../schemas/register.ts');
      await registerAll(cfg, say);
    });

  program
    .command('migrate')
    .description(
      'Create the database if needed, apply pending MySQL migrations, and create or update the least-privilege users ' +
        'whose passwords are set (TXMON_MYSQL_<ROLE>_PASSWORD[_FILE]); safe to re-run. Run it as an administrator.',
    )
    .action(async () => {
      const { cfg } = context();
      const { migrate } = await import('../platform/mysql.ts');
      const { ensureRoleUsers } = await import('../platform/mysql-users.ts');
      await migrate(cfg, say);
      const users = await ensureRoleUsers(cfg, say);
      if (users.length === 0)
        say('migrate: no TXMON_MYSQL_*_PASSWORD set, no least-privilege users created (see docs/operations.md)');
    });

  const state = program.command('state').description('The windowed state in Redis (rebuilt from MySQL when lost).');
  state
    .command('rebuild')
    .description(
      "Rebuild this prefix's Redis state from MySQL's transactions of the longest window, as a new generation (processors wait meanwhile; the old one is deleted after).",
    )
    .action(async () => {
      const { cfg, logger } = context();
      const { stateRebuild } = await import('./state.command.ts');
      process.exitCode = await stateRebuild(cfg, logger, say);
    });
  state
    .command('status')
    .description(
      'Whether the state markers are intact (exit code 1 when missing or of an older layout), how far each partition was applied, and whether Redis persists with AOF.',
    )
    .action(async () => {
      const { cfg } = context();
      const { stateStatus } = await import('./state.command.ts');
      process.exitCode = await stateStatus(cfg, say);
    });

  const model = program.command('model').description('Isolation-forest models: train, evaluate, manage.');
  model
    .command('eval-csv')
    .description(
      'Train a forest unsupervised on every numeric column of a CSV but the label, score every row, and print ROC AUC, PR AUC (average precision), training ms, scoring µs per row and model size. Missing cells (empty, NA, NaN, ?) take the column median.',
    )
    .argument('<file>', 'CSV file with a header row (delimiter: comma, semicolon or tab)')
    .requiredOption('--label <column>', 'the label column (with --no-header: its 0-based index)')
    .option(
      '--positive <value>',
      'the label value that marks an anomaly (default: a non-zero number, a name such as "anomaly", "outlier", "attack", or else the rarer value)',
    )
    .option('--no-header', 'the file has no header row: columns are c0, c1, ...')
    .option('--trees <n>', 'number of trees', int('--trees', 1), 100)
    .option('--sample-size <n>', 'sub-sample size ψ per tree', int('--sample-size', 2), 256)
    .option('--seed <n>', 'random seed', int('--seed'), 1)
    .option('--json', 'print the result as one JSON object')
    .action(
      async (
        file: string,
        o: { label: string; positive?: string; header: boolean; trees: number; sampleSize: number; seed: number; json?: boolean },
      ) => {
        const { evalCsv, formatEvalCsv } = await import('./model.command.ts');
        const result = evalCsv(file, o, say);
        process.stdout.write(o.json ? `${JSON.stringify(result)}\n` : formatEvalCsv(result));
      },
    );

  model
    .command('train')
    .description(
      'Train an isolation forest on the feature snapshots stored in MySQL (default: every stored transaction) and store it as a candidate, with its threshold, training baselines and, where labels exist, its evaluation.',
    )
    .option('--from <iso>', 'training window start (event time, inclusive)')
    .option('--to <iso>', 'training window end (event time, exclusive)')
    .option('--trees <n>', 'number of trees', int('--trees', 1), 100)
    .option('--sample-size <n>', 'sub-sample size ψ per tree', int('--sample-size', 2), 256)
    .option('--seed <n>', 'random seed', int('--seed'), 1)
    .option(
      '--alert-rate <r>',
      'share of training transactions the model alone flags (sets its threshold)',
      rate('--alert-rate'),
      0.01,
    )
    .option('--features <list>', 'comma-separated snapshot features (default: all)')
    .option('--actor <name>', 'who trains, for the audit log (default: the OS user)')
    .action(async (o: TrainCliOptions) => {
      const { cfg } = context();
      const { trainCommand } = await import('./model.command.ts');
      process.stdout.write(`${await trainCommand(cfg, o, say)}\n`);
    });
  model
    .command('list')
    .description('Every model with its state, training size, threshold and evaluation, newest first.')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const { cfg } = context();
      const { listCommand } = await import('./model.command.ts');
      process.stdout.write(await listCommand(cfg, Boolean(o.json)));
    });
  for (const [action, description] of [
    [
      'promote',
      'Make <version> the active model (the active one is retired). Running processors switch within TXMON_MODEL_POLL_MS.',
    ],
    ['shadow', 'Score <version> beside the active model (both scores stored; it decides nothing).'],
  ] as const)
    model
      .command(action)
      .description(`${description} Audited.`)
      .argument('<version>', 'model version (txmon model list)')
      .option('--actor <name>', 'who, for the audit log (default: the OS user)')
      .option('--reason <text>', 'why, for the audit log')
      .action(async (version: string, o: { actor?: string; reason?: string }) => {
        const { cfg } = context();
        const { lifecycleCommand } = await import('./model.command.ts');
        process.stdout.write(await lifecycleCommand(cfg, action, version, o));
      });
  model
    .command('rollback')
    .description('Retire the active model and reactivate the one active before it. Audited.')
    .option('--actor <name>', 'who, for the audit log (default: the OS user)')
    .option('--reason <text>', 'why, for the audit log')
    .action(async (o: { actor?: string; reason?: string }) => {
      const { cfg } = context();
      const { lifecycleCommand } = await import('./model.command.ts');
      process.stdout.write(await lifecycleCommand(cfg, 'rollback', undefined, o));
    });
  model
    .command('evaluate')
    .description(
      'Rules alone, the model alone, and both combined on the labelled transactions in MySQL (txmon labels load): ROC AUC, PR AUC, precision, recall, alert rate.',
    )
    .option('--model <version>', 'model to evaluate (default: the active one, else the newest)')
    .option('--from <iso>', 'event time from (inclusive)')
    .option('--to <iso>', 'event time to (exclusive)')
    .option('--json', 'print JSON')
    .action(async (o: { model?: string; from?: string; to?: string; json?: boolean }) => {
      const { cfg } = context();
      const { evaluateCommand } = await import('./model.command.ts');
      process.stdout.write((await evaluateCommand(cfg, o, say)).text);
    });

  program
    .command('labels')
    .description('Ground truth for evaluation and training.')
    .command('load')
    .description(
      "Load labels: the simulator's ground-truth JSONL, or a CSV with header transaction_id,label[,pattern] (label fraud or legit). Upserts; safe to re-run.",
    )
    .argument('<file>', 'ground-truth.jsonl or labels.csv')
    .option('--source <name>', 'where the labels come from', 'simulator')
    .action(async (file: string, o: { source: string }) => {
      const { cfg } = context();
      const { labelsCommand } = await import('./model.command.ts');
      process.stdout.write(await labelsCommand(cfg, file, o.source, say));
    });

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
      const { settlementsImportCommand } = await import('./settlements.command.ts');
      process.exitCode = await settlementsImportCommand(cfg, logger, file, o, say);
    });

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
      const { runSimulate } = await import('./simulate.command.ts');
      // Commander also fills in the --settlement* options, which runSimulate reads as SettlementCliOptions.
      const summary = await runSimulate(cfg, logger, o, say);
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    });

  program
    .command('run')
    .description('Run a processor until SIGTERM/SIGINT (drains in-flight work first).')
    .addArgument(
      new Argument(
        '<processor>',
        'ingest (transactions → state, decisions, alerts), reconcile (settlements matched against transactions) or api (the dashboard API)',
      ).choices(['ingest', 'reconcile', 'api']),
    )
    .option('--drain', 'exit by itself once the consumer group has caught up with its topics')
    .addOption(
      new Option(
        '--metrics-port <port>',
        'port for /metrics, /healthz, /readyz (default TXMON_METRICS_PORT for ingest, TXMON_RECON_METRICS_PORT for reconcile, TXMON_API_PORT for api)',
      ).argParser(int('--metrics-port')),
    )
    .action(async (processor: 'ingest' | 'reconcile' | 'api', o: { drain?: boolean; metricsPort?: number }) => {
      const { cfg, logger } = context();
      applyHeapGrowingPercent(cfg.heapGrowingPercent);
      const { runProcessor, runApi } = await import('./run.command.ts');
      if (processor === 'api') {
        if (o.drain) throw new InvalidArgumentError('--drain is for the processors, not the api');
        await runApi(cfg, logger, { port: o.metricsPort ?? cfg.api.port }, say);
        return;
      }
      const metricsPort = o.metricsPort ?? (processor === 'ingest' ? cfg.metrics.port : cfg.recon.metricsPort);
      await runProcessor(cfg, logger, processor, { drain: Boolean(o.drain), metricsPort }, say);
    });

  const apikey = program.command('apikey').description('API keys of the dashboard API (stored hashed; a key is shown once).');
  apikey
    .command('create')
    .description(
      'Create a key for a role and print it (once): analyst (alerts, triage, transactions, reconciliation), sre (health, metrics, models, reconciliation read), admin (everything, model changes).',
    )
    .requiredOption('--name <name>', 'who or what uses the key (shown in the audit log)')
    .addOption(new Option('--role <role>', 'its role').choices(['analyst', 'sre', 'admin']).makeOptionMandatory())
    .option('--created-by <name>', 'who creates it', process.env.USER ?? 'txmon')
    .action(async (o: { name: string; role: 'analyst' | 'sre' | 'admin'; createdBy: string }) => {
      const { cfg } = context();
      const { runApikeyCreate } = await import('./apikey.command.ts');
      await runApikeyCreate(cfg, o, say);
    });
  apikey
    .command('revoke')
    .description('Revoke a key by its id (the 12 hex digits after txk_); effective within TXMON_API_KEY_CACHE_MS.')
    .argument('<key-id>', 'the key id')
    .option('--by <name>', 'who revokes it (audit log)', process.env.USER ?? 'txmon')
    .action(async (keyId: string, o: { by: string }) => {
      const { cfg } = context();
      const { runApikeyRevoke } = await import('./apikey.command.ts');
      await runApikeyRevoke(cfg, keyId, o, say);
    });
  apikey
    .command('list')
    .description('Every key: id, name, role, created, revoked, last used (never a secret).')
    .action(async () => {
      const { cfg } = context();
      const { runApikeyList } = await import('./apikey.command.ts');
      await runApikeyList(cfg, say);
    });

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
      const { runReconReport } = await import('./recon.command.ts');
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
      const { runReconResolve } = await import('./recon.command.ts');
      await runReconResolve(cfg, reference, o, say);
    });

  program
    .command('demo')
    .description(
      'Start the services, reset the demo namespace (topics demo.*, database txmon_demo), simulate history, run the pipeline until drained and check it against the ground truth; reconcile the history against simulated settlement lines and check the report; then train a model on the history, decide a new day of traffic with rules and model, and show alerts, explanations and the evaluation.',
    )
    .option('--count <n>', 'transactions of history to simulate', int('--count', 1), 50_000)
    .option('--live <n>', 'transactions of the live day decided with the trained model', int('--live', 1), 20_000)
    .option('--seed <n>', 'random seed', int('--seed'), 42)
    .option(
      '--no-serve',
      'exit after the summary instead of serving the dashboard API (the default without a terminal, or with CI=true)',
    )
    .action(async (o: { count: number; seed: number; live: number; serve: boolean }) => {
      const { runDemo } = await import('./demo.command.ts');
      const ok = await runDemo(process.env, o, say);
      if (!ok) process.exitCode = 1;
    });

  return program;
}

/** Runs the CLI; errors become one clear line and a non-zero exit code. */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    const refused = mysqlLoginRefused(err);
    if (refused) {
      // A configuration error found at the first query rather than at start-up's validation.
      say(
        `txmon: CONFIG_INVALID: MySQL refused this login: check the user in TXMON_MYSQL_URL and its password (TXMON_MYSQL_PASSWORD, TXMON_MYSQL_PASSWORD_FILE or the URL), and its grants: ${refused.message}`,
      );
      process.exitCode = 78;
    } else if (err instanceof TxmonError) {
      say(`txmon: ${err.code}: ${err.message}`);
      if (err.cause) say(`  cause: ${errorMessage(err.cause)}`);
      process.exitCode = err.code === 'CONFIG_INVALID' ? 78 : err.code === 'BAD_INPUT' ? 2 : 1;
    } else {
      say(`txmon: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exitCode = 1;
    }
  }
}
