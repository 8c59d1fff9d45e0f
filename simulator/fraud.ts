/** Labelled fraud patterns as episodes: each yields a short run of purchases spaced in event time. */
import { FOREIGN_IP_COUNTRIES } from './geo.ts';
import type { Rng } from '../domain/rng.ts';
import type { Channel, FraudLabel } from './types.ts';
import { minorFromUsd, roundMinorFromUsd, type Account, type Card, type Merchant, type World } from './world.ts';

/** What a purchase is before it gets ids, a type and an event time. */
export interface Purchase {
  readonly account: Account;
  readonly card: Card;
  readonly merchant: Merchant;
  readonly channel: Channel;
  readonly amountMinor: number;
  readonly currency: string;
  readonly deviceId: string | null;
  readonly ipCountry: string | null;
}

export interface Episode {
  readonly label: FraudLabel;
  /** Purchases still to come. */
  remaining: number;
  /** Event time (ms) at or after which the next purchase is due. */
  nextTime: number;
  /** The next purchase, emitted at event time `now`; advances remaining and nextTime. */
  next(rng: Rng, now: number): Purchase;
}

interface Plan {
  readonly length: readonly [number, number];
  /** Gap between purchases in event-time ms. */
  readonly gapMs: readonly [number, number];
  make(world: World, rng: Rng): (rng: Rng) => Purchase;
}

function merchantsWith(world: World, mccs: readonly string[]): readonly Merchant[] {
  const found = world.merchants.filter((m) => mccs.includes(m.profile.mcc));
  return found.length > 0 ? found : world.merchants;
}

function foreignIp(account: Account, rng: Rng): string {
  const options = FOREIGN_IP_COUNTRIES.filter((c) => c !== account.country);
  return rng.pick(options);
}

const PLANS: Readonly<Record<FraudLabel, Plan>> = {
  // Many tiny ecommerce charges on one (stolen) card across merchants within seconds, from one fraud device.
  card_testing: {
    length: [10, 25],
    gapMs: [300, 3_000],
    make(world, rng) {
      const account = world.activeAccounts.pick(rng);
      const card = rng.pick(account.cards);
      const deviceId = `dev-${rng.hex(16)}`;
      const ipCountry = foreignIp(account, rng);
      const merchants = merchantsWith(world, ['5999', '5816', '4899']);
      return (r) => ({
        account,
        card,
        merchant: r.pick(merchants),
        channel: 'ECOMMERCE',
        amountMinor: minorFromUsd(r.float(0.5, 2.0), account.currency),
        currency: account.currency,
        deviceId,
        ipCountry,
      });
    },
  },
  // A taken-over account: a device it never used, an IP abroad, and a few high-value purchases.
  account_takeover: {
    length: [2, 4],
    gapMs: [20_000, 180_000],
    make(world, rng) {
      const account = world.activeAccounts.pick(rng);
      const card = rng.pick(account.cards);
      const deviceId = `dev-${rng.hex(16)}`;
      const ipCountry = foreignIp(account, rng);
      const merchants = merchantsWith(world, ['5944', '5732', '5816', '4511']);
      return (r) => ({
        account,
        card,
        merchant: r.pick(merchants),
        channel: 'ECOMMERCE',
        amountMinor: minorFromUsd(Math.max(account.typicalUsd, 40) * r.float(10, 30), account.currency),
        currency: account.currency,
        deviceId,
        ipCountry,
      });
    },
  },
  // Many purchases on one account within about a minute, on its own devices.
  velocity: {
    length: [15, 25],
    gapMs: [500, 3_000],
    make(world, rng) {
      const account = world.activeAccounts.pick(rng);
      return (r) => ({
        account,
        card: r.pick(account.cards),
        merchant: r.pick(world.merchants),
        channel: 'ECOMMERCE',
        amountMinor: minorFromUsd(account.typicalUsd * r.lognormal(0, 0.5), account.currency),
        currency: account.currency,
        deviceId: r.pick(account.devices),
        ipCountry: account.country,
      });
    },
  },
  // A few cards from different accounts repeatedly paying one merchant round amounts.
  merchant_collusion: {
    length: [8, 16],
    gapMs: [5_000, 60_000],
    make(world, rng) {
      const merchant = rng.pick(world.merchants);
      const ring = Array.from({ length: rng.int(3, 6) }, () => {
        const account = world.activeAccounts.pick(rng);
        return { account, card: rng.pick(account.cards) };
      });
      return (r) => {
        const { account, card } = r.pick(ring);
        return {
          account,
          card,
          merchant,
          channel: r.chance(0.5) ? 'MOTO' : 'POS',
          amountMinor: roundMinorFromUsd(r.pick([100, 200, 250, 500, 1000]), account.currency, 50),
          currency: account.currency,
          deviceId: null,
          ipCountry: null,
        };
      };
    },
  },
};

/** Mean number of purchases of an episode, averaged over the patterns (they start in rotation). */
export const MEAN_EPISODE_LENGTH =
  Object.values(PLANS).reduce((sum, p) => sum + (p.length[0] + p.length[1]) / 2, 0) / Object.keys(PLANS).length;

/** Starts an episode of the pattern whose first purchase is due at `now` (event-time ms). */
export function startEpisode(label: FraudLabel, world: World, rng: Rng, now: number): Episode {
  const plan = PLANS[label];
  const make = plan.make(world, rng);
  return {
    label,
    remaining: rng.int(plan.length[0], plan.length[1]),
    nextTime: now,
    next(r, at) {
      this.remaining--;
      this.nextTime = at + r.int(plan.gapMs[0], plan.gapMs[1]);
      return make(r);
    },
  };
}
