// The TypeScript window engine (state/window-engine.ts) against today's Lua (window-core.lua via
// processors/ingest/state-store.ts) on the real Redis: for random streams over accounts, cards,
// merchants and devices, in random batches, every entity's features are the same. This is what
// proves that moving the windows into the ingest process changes no feature (issue 17).
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { featureArray, type EntityEvent, type EntityFeatures } from '../../domain/entity-features.ts';
import type { EntityKind } from '../../platform/keys.ts';
import type { TxmonRedis } from '../../platform/redis.ts';
import { writeMarker } from '../../state/marker.ts';
import { WindowState, entityId, type StateEvent } from '../../processors/ingest/state-store.ts';
import { EntityWindows } from '../../state/window-engine.ts';
import { DEFAULT_SCALE, SMALL_SCALE, eventStream, featureMismatch, type StreamScale } from '../helpers/window-streams.ts';
import { connectScratchRedis, dropScratchRedis } from '../helpers/scratch-redis.ts';

const root = `t-engine-${randomBytes(4).toString('hex')}`;
let redis: TxmonRedis;
let runs = 0;

beforeAll(async () => {
  redis = await connectScratchRedis(root);
});
afterAll(() => dropScratchRedis(redis, root));

const KINDS: EntityKind[] = ['account', 'card', 'merchant', 'device'];

/** Which account, card and device each event belongs to (the merchant is the event's own). */
const owners = fc.record({ account: fc.nat(2), card: fc.nat(3), device: fc.option(fc.nat(1)) });

async function sameFeatures(scale: StreamScale, numRuns: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      eventStream(scale, 150).chain((events) =>
        fc.tuple(fc.constant(events), fc.array(owners, { minLength: events.length, maxLength: events.length })),
      ),
      fc.array(fc.integer({ min: 1, max: 25 }), { minLength: 1, maxLength: 10 }),
      async ([events, who], batchSizes) => {
        const prefix = `${root}:${runs++}`;
        await writeMarker(redis, prefix, 0, { test: true });
        const lua = new WindowState(redis, { prefix, windows: scale.windows, dedupTtlSeconds: 3600, stateTtlSeconds: 3600 });
        const deliveries: StateEvent[] = events.map((e: EntityEvent, i) => {
          const o = who[i] as { account: number; card: number; device: number | null };
          return {
            transactionId: `tx-${i}`,
            accountId: `a${o.account}`,
            cardToken: `c${o.card}`,
            merchantId: e.merchantId,
            deviceId: o.device === null ? null : `d${o.device}`,
            position: `topic/0/${i}`,
            eventTime: e.eventTime,
            amountBaseMinor: e.amountMinor,
            country: e.country,
            lat: e.lat,
            lon: e.lon,
            late: e.late,
            extra: '',
          };
        });
        const engines = new Map<string, EntityWindows>();
        for (let i = 0, b = 0; i < deliveries.length; b++) {
          const batch = deliveries.slice(i, i + (batchSizes[b % batchSizes.length] as number));
          const results = await lua.apply(batch);
          results.forEach((r, j) => {
            if (r.status !== 'new') throw new Error(`delivery ${i + j}: ${r.status}`);
            const d = batch[j] as StateEvent;
            const e = events[i + j] as EntityEvent;
            for (const kind of KINDS) {
              const id = entityId(d, kind);
              const luaFeatures = r.features[kind];
              if (id === null) {
                expect(luaFeatures, `${kind} of delivery ${i + j}`).toBeNull();
                continue;
              }
              const key = `${kind}:${id}`;
              let engine = engines.get(key);
              if (!engine) engines.set(key, (engine = EntityWindows.of(scale.windows)));
              const mismatch = featureMismatch(
                engine.apply(e),
                featureArray(luaFeatures as EntityFeatures),
                scale.windows.length,
              );
              expect(mismatch, `${key} at delivery ${i + j}`).toBeNull();
            }
          });
          i += batch.length;
        }
        // And the dashboard's read (entity-read.lua) equals features() at the head.
        const ids = [...engines.keys()].map((k) => {
          const [kind, id] = k.split(':') as [EntityKind, string];
          return { kind, id };
        });
        const read = await lua.read(ids);
        ids.forEach(({ kind, id }, n) => {
          const engine = engines.get(`${kind}:${id}`) as EntityWindows;
          const agg = read[n];
          // An entity that has only seen late or stale events has no state in Redis.
          if (engine.head === null) return expect(agg).toBeNull();
          expect(agg?.head).toBe(engine.head);
          const f = engine.features();
          const W = scale.windows.length;
          expect(agg?.windows.flatMap((w) => [w.count, w.sumMinor, w.distinctMerchants, w.distinctCountries])).toEqual(
            f.slice(0, 4 * W),
          );
          expect(agg?.amountN).toBe(f[4 * W]);
        });
      },
    ),
    { numRuns },
  );
}

describe('the TypeScript window engine and window-core.lua', () => {
  it('give the same features for random streams (small windows)', async () => {
    await sameFeatures(SMALL_SCALE, 60);
  });
  it('give the same features for random streams (the default windows)', async () => {
    await sameFeatures(DEFAULT_SCALE, 30);
  });
});
