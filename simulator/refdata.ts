/**
 * Reference data of a simulated world as the CSV files `txmon refdata load` reads: the accounts,
 * merchants and FX rates the simulator's transactions refer to. Pure and deterministic per options.
 */
import { perUsd } from './geo.ts';
import { Rng } from '../domain/rng.ts';
import type { SimOptions } from './types.ts';
import { buildWorld } from './world.ts';

const TIME_ZONES: Readonly<Record<string, string>> = {
  CH: 'Europe/Zurich',
  DE: 'Europe/Berlin',
  ES: 'Europe/Madrid',
  FR: 'Europe/Paris',
  GB: 'Europe/London',
  IE: 'Europe/Dublin',
  IT: 'Europe/Rome',
  JP: 'Asia/Tokyo',
  KW: 'Asia/Kuwait',
  NL: 'Europe/Amsterdam',
  US: 'America/New_York',
};

const HIGH_RISK_MCC = new Set(['7995', '5944', '5816']);
const MEDIUM_RISK_MCC = new Set(['4511', '5732', '6011']);

export interface RefdataCsvs {
  accounts: string;
  merchants: string;
  bins: string;
  fx: string;
}

/** The world's reference data as CSV text (header + one line per row), base currency USD. */
export function refdataCsvs(opts: SimOptions): RefdataCsvs {
  // The same world generateEvents builds: buildWorld on a fresh Rng(seed).
  const world = buildWorld(opts, new Rng(opts.seed));
  // Attributes the stream does not carry come from their own seeded stream, so the world stays as it is.
  const rng = new Rng(opts.seed ^ 0x5eed);
  const accounts = ['account_id,opened_at,home_country,risk_tier,time_zone'];
  for (const a of world.accounts) {
    const openedAt = new Date(opts.startTime - rng.int(1, 3 * 365) * 86_400_000).toISOString();
    const tier = rng.chance(0.05) ? 'HIGH' : rng.chance(0.2) ? 'MEDIUM' : 'LOW';
    accounts.push(`${a.id},${openedAt},${a.country},${tier},${TIME_ZONES[a.country] ?? 'UTC'}`);
  }
  const merchants = ['merchant_id,mcc,country,risk_tier'];
  for (const m of world.merchants) {
    const tier = HIGH_RISK_MCC.has(m.profile.mcc) ? 'HIGH' : MEDIUM_RISK_MCC.has(m.profile.mcc) ? 'MEDIUM' : 'LOW';
    merchants.push(`${m.id},${m.profile.mcc},${m.country},${tier}`);
  }
  const fx = ['currency,base_currency,valid_from,rate'];
  const validFrom = new Date(opts.startTime - 86_400_000).toISOString();
  for (const c of opts.currencies) {
    if (c === 'USD') continue;
    fx.push(`${c},USD,${validFrom},${trimDecimal((1 / perUsd(c)).toFixed(10))}`);
  }
  const bins = new Map<string, string>();
  for (const a of world.accounts) for (const c of a.cards) bins.set(c.bin, c.binCountry);
  const binLines = ['bin,issuing_country', ...[...bins].sort().map(([b, c]) => `${b},${c}`)];
  return {
    accounts: accounts.join('\n') + '\n',
    merchants: merchants.join('\n') + '\n',
    bins: binLines.join('\n') + '\n',
    fx: fx.join('\n') + '\n',
  };
}

function trimDecimal(s: string): string {
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}
