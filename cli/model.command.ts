/** `txmon model …` and `txmon labels load`: isolation-forest models and the ground truth they are evaluated on. */
import { type Command } from 'commander';
import { type CliContext, int, lifecycleCommands, rate } from './context.ts';
import type { TrainCliOptions } from './model.actions.ts';

export function register(program: Command, ctx: CliContext): void {
  const { context, say } = ctx;
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
        const { evalCsv, formatEvalCsv } = await import('./model.actions.ts');
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
      const { trainCommand } = await import('./model.actions.ts');
      process.stdout.write(`${await trainCommand(cfg, o, say)}\n`);
    });
  model
    .command('list')
    .description('Every model with its state, training size, threshold and evaluation, newest first.')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const { cfg } = context();
      const { listCommand } = await import('./model.actions.ts');
      process.stdout.write(await listCommand(cfg, Boolean(o.json)));
    });
  lifecycleCommands(
    model,
    [
      [
        'promote',
        'Make <version> the active model (the active one is retired); running processors switch within TXMON_MODEL_POLL_MS. First it backtests <version> with the rules in force over the latest TXMON_PROMOTION_CHECK_DAYS of stored decisions and warns about segments whose alert rate moves by more than TXMON_FAIRNESS_FACTOR.',
      ],
      ['shadow', 'Score <version> beside the active model (both scores stored; it decides nothing).'],
    ],
    'model version (txmon model list)',
    async (action, version, o) => {
      const { cfg } = context();
      const { lifecycleCommand } = await import('./model.actions.ts');
      process.stdout.write(await lifecycleCommand(cfg, action, version, o, say));
    },
  );
  model
    .command('card')
    .description(
      'The model card of <version>, written at training: training window and size, features, parameters, evaluation on labels, calibration of the score, alert rate by segment (channel, merchant country, account age band), known limits. A promotion refuses a model without one.',
    )
    .argument('<version>', 'model version (txmon model list)')
    .option('--json', 'print the card as JSON')
    .option('--generate', 'write the card of a model trained before cards (reads and scores its training window again); audited')
    .option('--actor <name>', 'who, for the audit log (default: the OS user)')
    .action(async (version: string, o: { json?: boolean; generate?: boolean; actor?: string }) => {
      const { cfg } = context();
      const { cardCommand } = await import('./model.actions.ts');
      process.stdout.write(await cardCommand(cfg, version, o, say));
    });
  model
    .command('rollback')
    .description('Retire the active model and reactivate the one active before it. Audited.')
    .option('--actor <name>', 'who, for the audit log (default: the OS user)')
    .option('--reason <text>', 'why, for the audit log')
    .action(async (o: { actor?: string; reason?: string }) => {
      const { cfg } = context();
      const { lifecycleCommand } = await import('./model.actions.ts');
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
      const { evaluateCommand } = await import('./model.actions.ts');
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
      const { labelsCommand } = await import('./model.actions.ts');
      process.stdout.write(await labelsCommand(cfg, file, o.source, say));
    });
}
