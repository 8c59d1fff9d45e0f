import { Counter, Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { proveOwnership, retryBatch, type PartitionOwnership } from './batch-retry.ts';
import { createLogger } from './logger.ts';
import { PartitionFencedError } from './transactional-output.ts';

const rebalance = () => Object.assign(new Error('The group is rebalancing'), { type: 'REBALANCE_IN_PROGRESS' });

/** A heartbeat as kafkajs's: sent only when `interval` has passed since the last one sent; its answers in turn. */
function throttledHeartbeat(interval: number, answers: Array<'ok' | Error>, clock: { now: number }) {
  let last = clock.now;
  const sent: number[] = [];
  const heartbeat = async () => {
    if (clock.now < last + interval) return;
    sent.push(clock.now);
    const a = answers.shift() ?? 'ok';
    if (a instanceof Error) throw a;
    last = clock.now;
  };
  return { heartbeat, sent };
}

function ctxFor(ownership: PartitionOwnership, heartbeat: () => Promise<void>) {
  const registry = new Registry();
  let running = true;
  return {
    stop: () => (running = false),
    ctx: {
      payload: { heartbeat, isRunning: () => running, isStale: () => false },
      where: { topic: 't', partition: 3, firstOffset: '10' },
      maxMs: 5,
      logger: createLogger({ level: 'silent' }),
      failing: new Set<string>(),
      metrics: {
        dependencyUp: new Gauge({ name: 'up', help: 'h', labelNames: ['dependency'], registers: [registry] }),
        retries: new Counter({ name: 'retries', help: 'h', labelNames: ['dependency'], registers: [registry] }),
      },
      ownership,
      heartbeatIntervalMs: 20,
    },
  };
}

/** The output's side: fenced at `at` until confirmed. */
function fencedOutput(at: number | undefined) {
  const state = { fenced: at, confirmed: 0 };
  const ownership: PartitionOwnership = {
    fencedSince: () => state.fenced,
    ownershipConfirmed: () => {
      state.fenced = undefined;
      state.confirmed++;
    },
  };
  return { state, ownership };
}

describe('proveOwnership', () => {
  it('sends a heartbeat after the fencing even when the last one was sent just before it', async () => {
    const clock = { now: 1_000 };
    // The last heartbeat went out at 1,000; the producer was fenced at 1,001: a call now is a no-op.
    const { heartbeat, sent } = throttledHeartbeat(3_000, [], clock);
    const wait = async (ms: number) => void (clock.now += ms);
    expect(await proveOwnership(heartbeat, 3_000, wait)).toBe('owner');
    expect(sent).toHaveLength(1);
    expect(sent[0]).toBeGreaterThan(1_001);
  });

  it('answers rebalance when a heartbeat says the group moved on, unknown when it cannot be sent', async () => {
    const clock = { now: 0 };
    const wait = async (ms: number) => void (clock.now += ms);
    const moved = throttledHeartbeat(10, [rebalance()], clock);
    clock.now = 50;
    expect(await proveOwnership(moved.heartbeat, 10, wait)).toBe('rebalance');
    const away = throttledHeartbeat(10, [new Error('connect ECONNREFUSED')], clock);
    clock.now += 50;
    expect(await proveOwnership(away.heartbeat, 10, wait)).toBe('unknown');
  });
});

describe('retryBatch after a fenced commit', () => {
  const fenced = () => new PartitionFencedError('t', 3, 'the partition’s transactional producer was fenced');

  it('retries once the group confirms this member still owns the partition', async () => {
    const { state, ownership } = fencedOutput(Date.now());
    let beats = 0;
    const { ctx } = ctxFor(ownership, async () => void beats++);
    let attempts = 0;
    const result = await retryBatch(async () => {
      attempts++;
      // The output refuses while the partition is fenced and not confirmed.
      if (attempts === 1 || state.fenced !== undefined) throw fenced();
      return 'done';
    }, ctx);
    expect(result).toBe('done');
    expect(state.confirmed).toBe(1);
    expect(beats).toBeGreaterThanOrEqual(2);
    expect(attempts).toBe(2);
  });

  it('gives the batch up, without confirming, when the group answers that it rebalanced', async () => {
    const { state, ownership } = fencedOutput(Date.now());
    const { ctx } = ctxFor(ownership, async () => {
      throw rebalance();
    });
    let attempts = 0;
    const err = await retryBatch(async () => {
      attempts++;
      throw fenced();
    }, ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartitionFencedError);
    expect(attempts).toBe(1);
    expect(state.confirmed).toBe(0);
    expect(state.fenced).toBeDefined();
  });
});
