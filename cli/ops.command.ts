/** `txmon ops …`: anomaly detection on the system's own metrics (issue 21), offline on exported series. */
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_DETECTOR } from '../ops/detector.ts';
import { type CliContext, int } from './context.ts';
import type { EvaluateCsvOptions } from './ops-evaluate-csv.actions.ts';
import type { DetectCsvOptions, EvaluateOptions } from './ops.actions.ts';

export function register(program: Command, ctx: CliContext): void {
  const { say } = ctx;
  const ops = program.command('ops').description("Anomaly detection on txmon's own metrics (ops-watch's detector).");
  const detectCsv = ops
    .command('detect-csv')
    .description(
      'Run the ops-watch detector over one series from a CSV file with a header row and print the flagged points with their scores: each point is scored against the points of the window before it (robust: median and MAD; zscore: mean and standard deviation) and flagged when |score| stays at or beyond the threshold for --persist points in a row. Needs no services.',
    )
    .argument('<file>', 'a CSV file with a header row (gzip-compressed or plain)')
    .requiredOption('--time <column>', 'the time column: ISO 8601 (no zone: UTC) or epoch milliseconds')
    .requiredOption('--value <column>', 'the numeric value column (an empty cell is a gap)')
    .option('--delimiter <char>', "the field separator (default ','; \\t for a tab)", delimiter)
    .option('--method <method>', `the baseline: robust or zscore (default ${DEFAULT_DETECTOR.method})`, method);
  detectorOptions(detectCsv)
    .option('--json', 'print { anomalies: [{ time, score, value, baseline }], params, points, gaps, episodes } as JSON')
    .action(async (file: string, o: DetectCsvOptions) => {
      const { detectCsvCommand } = await import('./ops.actions.ts');
      process.stdout.write(detectCsvCommand(file, o, say));
    });
  const evaluateCsv = ops
    .command('evaluate-csv')
    .description(
      "Measure the ops-watch detector on CSV files whose anomalies are labelled (a label column of 0 and 1, as SKAB's files have: docs/ops-watch.md): each value column is a series, run through detect-csv's detector with the robust baseline and the plain rolling z-score side by side; per series, the labelled windows detected (a flag within the window or --tolerance after it), the first flag's delay, and the false-alarm events outside the windows per day of normal time; per file, the same for any column flagged; totals per method. Needs no services.",
    )
    .argument('<file...>', 'CSV files with a header row (gzip-compressed or plain)')
    .requiredOption('--time <column>', 'the time column: ISO 8601 (no zone: UTC) or epoch milliseconds')
    .requiredOption('--label <column>', 'the label column: 1 in an anomaly, 0 not (anything else is refused with its line)')
    .option(
      '--value <column>',
      'a value column to evaluate, repeatable (default: every column but the time, the label and --exclude with a number in it)',
      collect,
    )
    .option('--exclude <column>', 'a column left out of the default value columns, repeatable', collect)
    .option('--delimiter <char>', "the field separator (default ','; \\t for a tab)", delimiter)
    .option('--method <method>', 'robust, zscore or both (default both)', methodOrBoth)
    .option(
      '--tolerance <duration>',
      "how long after a window's last row a flag still detects it (default 60s)",
      nonNegativeDuration('--tolerance'),
    )
    .option(
      '--unlabelled-clean',
      'read a file without the label column as all normal (false alarms only) instead of refusing it',
    );
  detectorOptions(evaluateCsv)
    .option(
      '--json',
      'print { params, files: [{ file, rows, windows, series: [{ column, results: { robust, zscore } }], any }], totals } as JSON',
    )
    .action(async (files: string[], o: EvaluateCsvOptions) => {
      const { evaluateCsvCommand } = await import('./ops-evaluate-csv.actions.ts');
      process.stdout.write(evaluateCsvCommand(files, o, say));
    });
  ops
    .command('evaluate')
    .description(
      "Replay recorded ops traces (real pipeline runs with injected faults: bench/ops-record.ts, docs/ops-watch.md) through ops-watch's engine and measure it: each fault's detection delay from its effect, in scrape intervals; false alarms per day of clean traffic; how far ahead each SLO breach was predicted. The robust baseline and the plain rolling z-score are run side by side. Parameters default to the config's (TXMON_OPS_*); the SLO limits are the trace's. With --scrape-interval, a trace that keeps each scrape's raw samples (txmon-ops-trace/2) is read as if scraped that often, and every count of scrapes (delays, --persist, --min-points, --forecast-points) is in that interval. Needs no services.",
    )
    .argument('<trace...>', 'trace files (JSON lines, .gz or plain)')
    .option('--method <method>', 'robust, zscore or both (default both)', methodOrBoth)
    .option('--window <duration>', 'the baseline window (default TXMON_OPS_WINDOW_MS)', duration('--window'))
    .option('--threshold <score>', 'the score threshold (default TXMON_OPS_THRESHOLD)', positive('--threshold'))
    .option('--persist <points>', 'unusual points in a row before a flag (default TXMON_OPS_PERSIST)', int('--persist', 1))
    .option('--min-points <n>', 'points before scoring (default TXMON_OPS_MIN_POINTS)', int('--min-points', 2))
    .option('--group <duration>', 'flags this close form one incident (default TXMON_OPS_GROUP_MS)', duration('--group'))
    .option(
      '--quiet <duration>',
      'an incident closes after this long without a flag (default TXMON_OPS_QUIET_MS)',
      duration('--quiet'),
    )
    .option(
      '--horizon <duration>',
      'how far ahead a breach becomes a prediction (default TXMON_OPS_HORIZON_MS)',
      duration('--horizon'),
    )
    .option(
      '--forecast-points <n>',
      'recent points the forecaster fits (default TXMON_OPS_FORECAST_POINTS)',
      int('--forecast-points', 3),
    )
    .option(
      '--settle <duration>',
      "how long after a fault's end its recovery counts as the fault's (default 60s)",
      duration('--settle'),
    )
    .option(
      '--scrape-interval <duration>',
      'replay each trace as if scraped this often (15s): a whole multiple of its recorded interval, read from its raw samples; a trace of derived values only (txmon-ops-trace/1) is refused (default: the recorded interval)',
      duration('--scrape-interval'),
    )
    .option(
      '--json',
      'print { params, traces: [{ file, header, recordedScrapeMs, replayedScrapeMs, faults, results: { robust, zscore } }], targets } as JSON',
    )
    .action(async (files: string[], o: EvaluateOptions) => {
      const { evaluateCommand } = await import('./ops.actions.ts');
      process.stdout.write(evaluateCommand(files, o, ctx.context().cfg));
    });
}

/** The detector's options detect-csv and evaluate-csv share, with detect-csv's defaults. */
function detectorOptions(command: Command): Command {
  return command
    .option(
      '--window <duration>',
      `how far back the baseline reaches: ms, or a number with s, m, h or d (default ${DEFAULT_DETECTOR.windowMs / 60_000}m)`,
      duration('--window'),
    )
    .option(
      '--threshold <score>',
      `|score| at or beyond which a point is unusual (default ${DEFAULT_DETECTOR.threshold})`,
      positive('--threshold'),
    )
    .option(
      '--persist <points>',
      `unusual points in a row before they are flagged (default ${DEFAULT_DETECTOR.persist})`,
      int('--persist', 1),
    )
    .option(
      '--min-points <n>',
      `points the baseline needs before scoring (default ${DEFAULT_DETECTOR.minPoints})`,
      int('--min-points', 2),
    )
    .option(
      '--min-scale <x>',
      `the smallest scale a deviation is divided by, in the value's units (default ${DEFAULT_DETECTOR.minScale})`,
      positive('--min-scale'),
    );
}

/** A repeatable option's values, in the order given. */
const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** A one-character field separator; `\t` (backslash, t) is a tab, which is awkward to type. */
export function delimiter(value: string): string {
  const d = value === '\\t' ? '\t' : value;
  if ([...d].length !== 1) throw new InvalidArgumentError('--delimiter must be one character (\\t for a tab)');
  return d;
}

function methodOrBoth(value: string): 'robust' | 'zscore' | 'both' {
  if (value !== 'robust' && value !== 'zscore' && value !== 'both')
    throw new InvalidArgumentError('--method must be robust, zscore or both');
  return value;
}

function method(value: string): 'robust' | 'zscore' {
  if (value !== 'robust' && value !== 'zscore') throw new InvalidArgumentError('--method must be robust or zscore');
  return value;
}

const UNIT_MS: Record<string, number> = { '': 1, ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration option's parser: ms, or a number with a unit (90s, 15m, 1h, 7d); an error names the option. */
export const duration =
  (name: string) =>
  (value: string): number => {
    const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(value.trim());
    const ms = m ? Number(m[1]) * (UNIT_MS[m[2] ?? ''] as number) : NaN;
    if (!(ms > 0)) throw new InvalidArgumentError(`${name} must be a positive duration: ms, or a number with s, m, h or d (15m)`);
    return ms;
  };

/** A duration option's parser that also takes 0. */
export const nonNegativeDuration =
  (name: string) =>
  (value: string): number =>
    /^0+(\.0+)?\s*(ms|s|m|h|d)?$/.test(value.trim()) ? 0 : duration(name)(value);

const positive =
  (name: string) =>
  (value: string): number => {
    const n = Number(value);
    if (!(Number.isFinite(n) && n > 0)) throw new InvalidArgumentError(`${name} must be a positive number`);
    return n;
  };
