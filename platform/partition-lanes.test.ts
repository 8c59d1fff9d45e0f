import { describe, expect, it } from 'vitest';
import { PartitionLanes, type LaneRun } from './partition-lanes.ts';

/** A run the test lets finish when it wants. */
interface Held {
  run: LaneRun<number, string>;
  finish: () => void;
}

function harness(
  o: {
    concurrency?: number;
    maxRunRecords?: number;
    maxQueuedRecords?: number;
    fail?: (r: LaneRun<number, string>) => boolean;
  } = {},
) {
  const started: Held[] = [];
  const errors: unknown[] = [];
  const dropped: string[] = [];
  const log: string[] = [];
  let running = 0;
  let maxRunning = 0;
  const lanes = new PartitionLanes<number, string>({
    concurrency: o.concurrency ?? 2,
    maxRunRecords: o.maxRunRecords ?? 100,
    maxQueuedRecords: o.maxQueuedRecords ?? 1_000,
    process: (run) =>
      new Promise<void>((resolve, reject) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        log.push(`start ${run.key} ${run.records.join(',')}`);
        started.push({
          run,
          finish: () => {
            running--;
            log.push(`end ${run.key}`);
            if (o.fail?.(run)) reject(new Error(`failed ${run.key}`));
            else resolve();
          },
        });
      }),
    onError: (_run, err) => errors.push(err),
    onDropped: (batch, ctx) => dropped.push(`${batch.partition}:${ctx}`),
  });
  const push = (partition: number, records: number[], ctx = `c${records.join('')}`) =>
    lanes.push({ topic: 't', partition, records, lastOffset: String(records.at(-1) ?? -1) }, ctx);
  return { lanes, started, errors, dropped, log, push, maxRunning: () => maxRunning };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('PartitionLanes', () => {
  it('runs a lane’s batches in order, one run at a time, taking the batches queued meanwhile together', async () => {
    const h = harness();
    h.push(0, [1, 2]);
    await tick();
    h.push(0, [3]);
    h.push(0, [4, 5]);
    await tick();
    expect(h.started).toHaveLength(1);
    h.started[0]?.finish();
    await tick();
    expect(h.started).toHaveLength(2);
    const second = h.started[1]?.run;
    expect(second?.records).toEqual([3, 4, 5]);
    expect(second?.batches).toBe(2);
    expect(second?.lastOffset).toBe('5');
    expect(second?.context).toBe('c45'); // the last batch's context
    h.started[1]?.finish();
    await h.lanes.idle();
    expect(h.log).toEqual(['start t/0 1,2', 'end t/0', 'start t/0 3,4,5', 'end t/0']);
  });

  it('takes no more than maxRunRecords in one run (a single larger batch alone), and runs skipped records alone', async () => {
    const h = harness({ maxRunRecords: 3 });
    h.push(0, [1]);
    await tick();
    h.push(0, [2, 3]);
    h.push(0, [4, 5]);
    h.push(0, []);
    h.push(0, [6, 7, 8, 9]);
    h.started[0]?.finish();
    await tick();
    for (let i = 1; i < 5; i++) {
      expect(h.started).toHaveLength(i + 1);
      h.started[i]?.finish();
      await tick();
    }
    await h.lanes.idle();
    expect(h.started.map((s) => s.run.records)).toEqual([[1], [2, 3], [4, 5], [], [6, 7, 8, 9]]);
  });

  it('runs lanes side by side, never more than `concurrency` at once', async () => {
    const h = harness({ concurrency: 2 });
    for (let p = 0; p < 4; p++) h.push(p, [p]);
    await tick();
    expect(h.started).toHaveLength(2);
    h.started[0]?.finish();
    await tick();
    expect(h.started).toHaveLength(3);
    h.started[1]?.finish();
    h.started[2]?.finish();
    await tick();
    h.started[3]?.finish();
    await h.lanes.idle();
    expect(h.maxRunning()).toBe(2);
    expect(new Set(h.started.map((s) => s.run.partition))).toEqual(new Set([0, 1, 2, 3]));
  });

  it('drops what waits in a lane when it is invalidated; the run in flight learns it is no longer current', async () => {
    const h = harness();
    h.push(0, [1]);
    h.push(1, [10]);
    await tick();
    h.push(0, [2]);
    h.push(0, [3]);
    h.push(1, [11]);
    const inFlight = h.started[0]?.run as LaneRun<number, string>;
    expect(inFlight.isCurrent()).toBe(true);
    h.lanes.invalidate('t', 0);
    expect(inFlight.isCurrent()).toBe(false);
    expect(h.dropped).toEqual(['0:c2', '0:c3']);
    expect(h.lanes.queuedRecords()).toBe(1); // partition 1's
    h.started[0]?.finish();
    h.started[1]?.finish();
    await tick();
    h.started[2]?.finish();
    await h.lanes.idle();
    expect(h.started.map((s) => s.run.records)).toEqual([[1], [10], [11]]);
    // A batch handed in after the invalidation runs.
    h.push(0, [5]);
    await tick();
    expect(h.started[3]?.run.records).toEqual([5]);
    expect(h.started[3]?.run.isCurrent()).toBe(true);
    h.started[3]?.finish();
    await h.lanes.idle();
  });

  it('runs exclusive tasks between a lane’s runs, never during one', async () => {
    const h = harness();
    h.push(0, [1]);
    await tick();
    const task = h.lanes.exclusive('t', 0, async () => {
      h.log.push('task');
      return 42;
    });
    h.push(0, [2]);
    await tick();
    expect(h.log).toEqual(['start t/0 1']);
    h.started[0]?.finish();
    expect(await task).toBe(42);
    await tick();
    h.started[1]?.finish();
    await h.lanes.idle();
    expect(h.log).toEqual(['start t/0 1', 'end t/0', 'task', 'start t/0 2', 'end t/0']);
  });

  it('has no room once a lane holds maxQueuedRecords waiting; waitForRoom resolves when a run takes them', async () => {
    const h = harness({ maxQueuedRecords: 3 });
    h.push(0, [1]);
    await tick();
    h.push(0, [2, 3]);
    expect(h.lanes.hasRoom('t', 0)).toBe(true);
    h.push(0, [4]);
    expect(h.lanes.hasRoom('t', 0)).toBe(false);
    expect(h.lanes.hasRoom('t', 1)).toBe(true);
    let roomy = false;
    const waited = h.lanes.waitForRoom('t', 0, 60_000).then(() => (roomy = true));
    await tick();
    expect(roomy).toBe(false);
    h.started[0]?.finish();
    await waited;
    expect(h.lanes.hasRoom('t', 0)).toBe(true);
    h.started[1]?.finish();
    await h.lanes.idle();
  });

  it('reports a failed run and goes on with the lane', async () => {
    const h = harness({ fail: (r) => r.records.includes(1) });
    h.push(0, [1]);
    await tick();
    h.push(0, [2]);
    h.started[0]?.finish();
    await tick();
    h.started[1]?.finish();
    await h.lanes.idle();
    expect(h.errors.map((e) => (e as Error).message)).toEqual(['failed t/0']);
    expect(h.started.map((s) => s.run.records)).toEqual([[1], [2]]);
  });

  it('idle() waits for the runs in flight after invalidateAll', async () => {
    const h = harness();
    h.push(0, [1]);
    h.push(1, [2]);
    await tick();
    h.push(0, [3]);
    h.lanes.invalidateAll();
    let idle = false;
    const done = h.lanes.idle().then(() => (idle = true));
    await tick();
    expect(idle).toBe(false);
    h.started[0]?.finish();
    h.started[1]?.finish();
    await done;
    expect(h.started).toHaveLength(2);
    expect(h.dropped).toEqual(['0:c3']);
  });

  it('stalledMs() measures the longest-silent run in progress from its start or last beat', async () => {
    let clock = 1_000;
    const runs: Array<{ run: LaneRun<number, string>; finish: () => void }> = [];
    const lanes = new PartitionLanes<number, string>({
      concurrency: 2,
      maxRunRecords: 10,
      maxQueuedRecords: 10,
      process: (run) => new Promise<void>((resolve) => runs.push({ run, finish: resolve })),
      onError: () => {},
      now: () => clock,
    });
    expect(lanes.stalledMs()).toBe(0);
    lanes.push({ topic: 't', partition: 0, records: [1], lastOffset: '1' }, 'a');
    await tick();
    clock += 500;
    lanes.push({ topic: 't', partition: 1, records: [2], lastOffset: '2' }, 'b');
    await tick();
    clock += 1_000;
    expect(lanes.stalledMs()).toBe(1_500);
    runs[0]?.run.beat();
    clock += 200;
    expect(lanes.stalledMs()).toBe(1_200); // partition 1's run, silent since it started
    runs[1]?.finish();
    runs[0]?.finish();
    await lanes.idle();
    expect(lanes.stalledMs()).toBe(0);
  });
});
