/** `txmon simulate`: produce synthetic traffic to the transactions topic and write the ground truth. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TxmonConfig } from '../config/config.ts';
import { isKnownCurrency } from '../domain/currencies.ts';
import { validateSettlement } from '../domain/settlement.ts';
import { ConfigError } from '../platform/errors.ts';
import type { Logger } from '../platform/logger.ts';
import { RECON_STATUSES } from '../reconciliation/match.ts';
import { generateEvents } from '../simulator/generate.ts';
import { produceSettlements, writeSettlementGroundTruth } from '../simulator/produce-settlements.ts';
import { produceSimulation } from '../simulator/produce.ts';
import type { GroundTruthSummary } from '../simulator/simulate.ts';
import { refdataCsvs } from '../simulator/refdata.ts';
import {
  DEFAULT_SETTLEMENT_OPTIONS,
  generateSettlements,
  type SettlementOptions,
  type SettlementSummary,
  type SimulatedSettlements,
} from '../simulator/settlements.ts';
import { DEFAULT_SIM_OPTIONS, type SimOptions, type Transaction } from '../simulator/types.ts';
import { topicName } from '../topics/topics.ts';

/** The options of `txmon simulate` (and the demo's simulation), as commander parses them. */
export interface SimulateCliOptions {
  count: number;
  seed: number;
  rate: number;
  accounts: number;
  merchants: number;
  cardsPerAccount: number;
  txPerAccountDay: number;
  currencies: string;
  duplicateRate: number;
  outOfOrderRate: number;
  lateRate: number;
  malformedRate: number;
  fraudRate: number;
  start: string;
  groundTruth: string;
  refdataDir?: string;
}

/** `txmon simulate`'s settlement options; absent ones (the demo's calls) mean no settlements and the default rates. */
export interface SettlementCliOptions {
  settlements?: boolean;
  settlementsGroundTruth?: string;
  settlementMissingRate?: number;
  settlementDuplicateRate?: number;
  settlementAmountOffRate?: number;
  settlementWrongCurrencyRate?: number;
  settlementSplitRate?: number;
  settlementLateRate?: number;
  settlementWithinToleranceRate?: number;
  settlementUnknownRate?: number;
}

/** What runSettlementSimulation does: the mismatch rates, and where the ground truth goes (none when absent). */
export type SettlementSimOptions = SettlementOptions & { groundTruthPath?: string };

/**
 * Produces the simulated transactions and writes their ground truth; with `--settlements`, then
 * their settlement lines and the settlement ground truth (summary under `settlements`).
 */
export async function runSimulate(
  cfg: TxmonConfig,
  logger: Logger,
  o: SimulateCliOptions & SettlementCliOptions,
  say: (line: string) => void,
): Promise<GroundTruthSummary & { settlements?: SettlementSummary }> {
  const opts = simOptionsOf(o);
  if (!o.settlements && o.settlementsGroundTruth !== undefined)
    throw new ConfigError('--settlements-ground-truth needs --settlements');
  // Settlements are generated (and checked) before anything is produced, so a bad rate or a start
  // too recent does not leave transactions on the topic without their settlements.
  const settlementOpts = o.settlements ? settlementOptionsOf(o) : null;
  const settlements = settlementOpts === null ? null : prepareSettlements(cfg, opts, settlementOpts);

  const topic = topicName(cfg.topicNamespace, 'transactions');
  mkdirSync(dirname(o.groundTruth), { recursive: true });
  if (o.refdataDir) writeRefdata(o.refdataDir, opts, say);
  const summary = await produceSimulation(cfg, logger, { ...opts, ratePerSecond: o.rate, groundTruthPath: o.groundTruth }, say);
  say(`simulate: ${summary.records.toLocaleString('en')} records to ${topic}; ground truth in ${o.groundTruth}`);
  if (settlementOpts === null || settlements === null) return summary;
  await emitSettlements(cfg, logger, settlements, settlementOpts.groundTruthPath, say);
  return { ...summary, settlements: settlements.summary };
}

/**
 * Generates the settlement lines of the transaction stream `simOpts` gives (regenerated: it is
 * deterministic), produces them to the settlements topic, writes their ground truth when asked, and
 * prints the reconciliation counts to expect. Run it after the transactions were produced.
 */
export async function runSettlementSimulation(
  cfg: TxmonConfig,
  logger: Logger,
  simOpts: SimOptions,
  settlementOpts: SettlementSimOptions,
  say: (line: string) => void,
): Promise<SettlementSummary> {
  const settlements = prepareSettlements(cfg, simOpts, settlementOpts);
  await emitSettlements(cfg, logger, settlements, settlementOpts.groundTruthPath, say);
  return settlements.summary;
}

/** The settlement lines of the stream, each checked against the contract as the pipeline will check it. */
function prepareSettlements(cfg: TxmonConfig, simOpts: SimOptions, settlementOpts: SettlementOptions): SimulatedSettlements {
  const settlements = generateSettlements(validTransactions(simOpts), settlementOpts, {
    settledTypes: cfg.recon.settledTypes,
    match: cfg.recon.policy,
    allowedLatenessMs: cfg.recon.allowedLatenessMs,
  });
  // Simulated times must be in the past, or the pipeline would dead-letter the lines.
  const limits = { recordTimestamp: Date.now(), maxFutureSkewMs: cfg.ingest.maxFutureSkewMs };
  for (const line of settlements.lines) {
    const v = validateSettlement(line, limits);
    if (!v.ok)
      throw new ConfigError(
        `simulate: settlement line ${line.settlement_id} would be dead-lettered (${v.problems.join('; ')}); choose an earlier --start`,
      );
  }
  return settlements;
}

/** Produces the lines, writes the ground truth when asked, and prints what reconciliation should end with. */
async function emitSettlements(
  cfg: TxmonConfig,
  logger: Logger,
  { lines, truth, summary }: SimulatedSettlements,
  groundTruthPath: string | undefined,
  say: (line: string) => void,
): Promise<void> {
  const topic = topicName(cfg.topicNamespace, 'settlements');
  await produceSettlements(cfg, logger, lines, say);
  if (groundTruthPath !== undefined) {
    mkdirSync(dirname(groundTruthPath), { recursive: true });
    await writeSettlementGroundTruth(groundTruthPath, truth, summary);
  }
  const n = (x: number): string => x.toLocaleString('en');
  say(
    `simulate: ${n(summary.lines)} settlement lines to ${topic} for ${n(summary.references)} references ` +
      `(1:N ${n(summary.one_to_n)}, N:1 ${n(summary.n_to_one)})` +
      (groundTruthPath === undefined ? '' : `; ground truth in ${groundTruthPath}`),
  );
  const at = summary.final_watermark === null ? 'no lines' : new Date(summary.final_watermark).toISOString();
  say(`simulate: reconciliation to expect once every line is in (final watermark ${at}):`);
  for (const status of RECON_STATUSES) say(`  ${status.padEnd(22)} ${n(summary.expected[status]).padStart(9)}`);
}

/** The stream's valid, unique transactions, in stream order (what reconciliation can see in MySQL). */
function* validTransactions(opts: SimOptions): Generator<Transaction> {
  // The default encoder frames under another schema id than the produced records, but with a header of
  // the same length, so every draw, and hence every transaction, is the same as when they were produced.
  for (const e of generateEvents(opts)) if (e.kind === 'valid') yield e.tx;
}

/** The settlement options of the CLI options (seeded like the transactions). */
function settlementOptionsOf(o: SimulateCliOptions & SettlementCliOptions): SettlementSimOptions {
  const d = DEFAULT_SETTLEMENT_OPTIONS;
  return {
    seed: o.seed,
    missingRate: o.settlementMissingRate ?? d.missingRate,
    duplicatedRate: o.settlementDuplicateRate ?? d.duplicatedRate,
    amountOffRate: o.settlementAmountOffRate ?? d.amountOffRate,
    wrongCurrencyRate: o.settlementWrongCurrencyRate ?? d.wrongCurrencyRate,
    splitRate: o.settlementSplitRate ?? d.splitRate,
    lateRate: o.settlementLateRate ?? d.lateRate,
    withinToleranceRate: o.settlementWithinToleranceRate ?? d.withinToleranceRate,
    unknownRate: o.settlementUnknownRate ?? d.unknownRate,
    groundTruthPath: o.settlementsGroundTruth ?? join(dirname(o.groundTruth), 'settlements-ground-truth.jsonl'),
  };
}

/** The generator options of the CLI options; throws a ConfigError on an unknown currency or a bad start time. */
export function simOptionsOf(o: SimulateCliOptions): SimOptions {
  const currencies = o.currencies.split(',').map((c) => c.trim().toUpperCase());
  const unknown = currencies.filter((c) => !isKnownCurrency(c));
  if (unknown.length > 0) throw new ConfigError(`--currencies: not ISO 4217: ${unknown.join(', ')}`);
  const startTime = Date.parse(o.start);
  if (Number.isNaN(startTime)) throw new ConfigError(`--start: not an ISO 8601 time: ${o.start}`);
  return simOptions(o, currencies, startTime);
}

/** The generator options of the CLI options. */
function simOptions(o: SimulateCliOptions, currencies: string[], startTime: number): SimOptions {
  return {
    ...DEFAULT_SIM_OPTIONS,
    seed: o.seed,
    count: o.count,
    accounts: o.accounts,
    merchants: o.merchants,
    cardsPerAccount: o.cardsPerAccount,
    currencies,
    startTime,
    eventsPerSecondOfEventTime: (o.accounts * o.txPerAccountDay) / 86_400,
    duplicateRate: o.duplicateRate,
    outOfOrderRate: o.outOfOrderRate,
    lateRate: o.lateRate,
    malformedRate: o.malformedRate,
    fraudRate: o.fraudRate,
  };
}

/** Writes the simulated world's reference data as the CSV files `txmon refdata load` reads. */
export function writeRefdata(
  dir: string,
  opts: SimOptions,
  say: (line: string) => void,
): Record<'accounts' | 'merchants' | 'bins' | 'fx', string> {
  mkdirSync(dir, { recursive: true });
  const csv = refdataCsvs(opts);
  const kinds = ['accounts', 'merchants', 'bins', 'fx'] as const;
  const files = Object.fromEntries(kinds.map((k) => [k, join(dir, `${k}.csv`)])) as Record<(typeof kinds)[number], string>;
  for (const k of kinds) writeFileSync(files[k], csv[k]);
  say(`simulate: reference data in ${dir} (accounts.csv, merchants.csv, bins.csv, fx.csv)`);
  return files;
}
