import { describe, expect, it } from 'vitest';
import { cachedLookups } from './kafka-coordinators.ts';

/** A fake look-up that counts its calls and answers with the call's number (or fails when told). */
function fake() {
  const calls: string[] = [];
  let fail = false;
  const lookup = function (this: object, args: { groupId: string; coordinatorType?: number }): Promise<unknown> {
    calls.push(`${args.coordinatorType ?? 0}:${args.groupId}`);
    return fail ? Promise.reject(new Error('NOT_COORDINATOR')) : Promise.resolve({ n: calls.length });
  };
  return { lookup, calls, failNext: (f: boolean) => (fail = f) };
}

describe('cachedLookups (kafkajs coordinator answers)', () => {
  it('asks once per key and cluster within the TTL, again after it', async () => {
    const f = fake();
    let t = 1_000;
    const cached = cachedLookups(f.lookup, 1_000, () => t);
    const cluster = {};
    const a = await cached.call(cluster, { groupId: 'tx-1', coordinatorType: 1 });
    expect(await cached.call(cluster, { groupId: 'tx-1', coordinatorType: 1 })).toBe(a);
    // Another key (the consumer group, type 0) and another cluster each ask for themselves.
    await cached.call(cluster, { groupId: 'tx-1' });
    await cached.call({}, { groupId: 'tx-1', coordinatorType: 1 });
    expect(f.calls).toEqual(['1:tx-1', '0:tx-1', '1:tx-1']);
    t += 999;
    await cached.call(cluster, { groupId: 'tx-1', coordinatorType: 1 });
    expect(f.calls).toHaveLength(3);
    t += 1;
    expect(await cached.call(cluster, { groupId: 'tx-1', coordinatorType: 1 })).not.toBe(a);
    expect(f.calls).toHaveLength(4);
  });

  it('shares one request between concurrent asks, and keeps no failed answer', async () => {
    const f = fake();
    const cached = cachedLookups(f.lookup, 60_000);
    const cluster = {};
    const [x, y] = await Promise.all([
      cached.call(cluster, { groupId: 'g', coordinatorType: 1 }),
      cached.call(cluster, { groupId: 'g', coordinatorType: 1 }),
    ]);
    expect(x).toBe(y);
    expect(f.calls).toHaveLength(1);
    f.failNext(true);
    await expect(cached.call(cluster, { groupId: 'h' })).rejects.toThrow(/NOT_COORDINATOR/);
    f.failNext(false);
    await expect(cached.call(cluster, { groupId: 'h' })).resolves.toEqual({ n: 3 });
    expect(f.calls).toEqual(['1:g', '0:h', '0:h']);
  });
});
