/** `txmon simulate`: produce synthetic traffic to the transactions topic and write the ground truth. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TxmonConfig } from '../config/config.ts';
import { isKnownCurrency } from '../domain/currencies.ts';
import { ConfigError } from '../platform/errors.ts';
import type { Logger } from '../platform/logger.ts';
import { produceSimulation } from '../simulator/produce.ts';
import type { GroundTruthSummary } from '../simulator/simulate.ts';
import { refdataCsvs } from '../simulator/refdata.ts';
import { DEFAULT_SIM_OPTIONS, type SimOptions } from '../simulator/types.ts';
import { topicName } from '../topics/topics.ts';
import type { SimulateCliOptions } from './main.ts';

export async function runSimulate(
  cfg: TxmonConfig,
  logger: Logger,
  o: SimulateCliOptions,
  say: (line: string) => void,
): Promise<GroundTruthSummary> {
  const currencies = o.currencies.split(',').map((c) => c.trim().toUpperCase());
  const unknown = currencies.filter((c) => !isKnownCurrency(c));
  if (unknown.length > 0) throw new ConfigError(`--currencies: not ISO 4217: ${unknown.join(', ')}`);
  const startTime = Date.parse(o.start);
  if (Number.isNaN(startTime)) throw new ConfigError(`--start: not an ISO 8601 time: ${o.start}`);

  const topic = topicName(cfg.topicNamespace, 'transactions');
  mkdirSync(dirname(o.groundTruth), { recursive: true });
  const opts = simOptions(o, currencies, startTime);
  if (o.refdataDir) writeRefdata(o.refdataDir, opts, say);
  const summary = await produceSimulation(cfg, logger, { ...opts, ratePerSecond: o.rate, groundTruthPath: o.groundTruth }, say);
  say(`simulate: ${summary.records.toLocaleString('en')} records to ${topic}; ground truth in ${o.groundTruth}`);
  return summary;
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
