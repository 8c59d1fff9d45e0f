/**
 * Pipelined batches (docs/state.md "Pipelined batches"): each partition has a lane, a queue of the
 * batches fetched for it and not yet processed. A lane runs one batch at a time, in offset order;
 * lanes run side by side, at most `concurrency` runs at once. The fetcher hands a batch to its lane
 * and fetches again while the lane works, so a slow partition no longer holds up the next fetch of
 * the others (kafkajs fetches again only when every batch of a fetch is done). Batches waiting in a
 * lane when its run starts are taken together, up to `maxRunRecords`: under load the runs grow and
 * their fixed costs are paid once for several fetches.
 *
 * An epoch per lane drops what was queued before a change of position: a seek (a restore, a failed
 * run going back to its first offset) or a rebalance invalidates the lane, and whatever it held is
 * fetched again from the new position. Pure scheduling: no client, no clock but the caller's.
 */

/** A fetched batch handed to a lane. An empty `records` is a batch of skipped records (transaction markers, aborted records) to commit past. */
export interface LaneBatch<R> {
  topic: string;
  partition: number;
  records: readonly R[];
  /** The offset of its last record (skipped ones included). */
  lastOffset: string;
}

/** One run of a lane: the batches taken together. */
export interface LaneRun<R, C> {
  key: string;
  topic: string;
  partition: number;
  /** The records of every batch taken, in order (empty: skipped records only). */
  records: readonly R[];
  /** The last batch's last offset: the run covers everything up to it. */
  lastOffset: string;
  /** The context the last batch was handed with (its fetch's callbacks). */
  context: C;
  /** When the first batch taken was handed to the lane (the caller's clock). */
  queuedAt: number;
  /** Batches taken together. */
  batches: number;
  /** False once the lane was invalidated after this run started (its records are fetched again). */
  isCurrent(): boolean;
  /** Marks progress (a heartbeat of the run's retries): what stalledMs measures from. */
  beat(): void;
}

export interface PartitionLanesOptions<R, C> {
  /** Runs at once over all lanes. */
  concurrency: number;
  /** A run takes queued batches while their records stay within this (a single larger batch is taken alone). */
  maxRunRecords: number;
  /** A lane holding this many records waiting has no room (the fetcher waits: backpressure). */
  maxQueuedRecords: number;
  /** Processes a run; its own failures are its own (a throw is reported to onError). */
  process: (run: LaneRun<R, C>) => Promise<void>;
  onError: (run: LaneRun<R, C>, err: unknown) => void;
  /** Called for each batch an invalidation drops before it ran. */
  onDropped?: (batch: LaneBatch<R>, context: C) => void;
  now?: () => number;
}

interface Queued<R, C> {
  batch: LaneBatch<R>;
  context: C;
  queuedAt: number;
}

interface Lane<R, C> {
  queue: Array<Queued<R, C>>;
  /** Records waiting in `queue`. */
  queued: number;
  epoch: number;
  /** The lane's pump, while it has work. */
  pumping: Promise<void> | null;
  /** The tail of the lane's exclusive section: runs and exclusive tasks, in turn. */
  tail: Promise<void>;
  /** Fetchers waiting for room. */
  waiters: Array<() => void>;
  /** Runs and exclusive tasks chained on `tail` and not yet settled. */
  busy: number;
  /** When the run in progress started or last beat (null: none in progress). */
  lastBeat: number | null;
}

export class PartitionLanes<R, C> {
  private readonly lanes = new Map<string, Lane<R, C>>();
  private active = 0;
  private readonly slotWaiters: Array<() => void> = [];
  private readonly now: () => number;

  constructor(private readonly o: PartitionLanesOptions<R, C>) {
    if (o.concurrency < 1) throw new RangeError('concurrency must be at least 1');
    this.now = o.now ?? Date.now;
  }

  /** Hands a fetched batch to its partition's lane; returns at once (see hasRoom for backpressure). */
  push(batch: LaneBatch<R>, context: C): void {
    const key = laneKey(batch.topic, batch.partition);
    const lane = this.lane(key);
    lane.queue.push({ batch, context, queuedAt: this.now() });
    lane.queued += batch.records.length;
    this.pump(key, lane);
  }

  /** Whether the partition's lane has room for another batch. */
  hasRoom(topic: string, partition: number): boolean {
    const lane = this.lanes.get(laneKey(topic, partition));
    return lane === undefined || lane.queued < this.o.maxQueuedRecords;
  }

  /** Resolves when the lane has room, or after `timeoutMs` (the caller heartbeats meanwhile). */
  waitForRoom(topic: string, partition: number, timeoutMs: number): Promise<void> {
    const lane = this.lanes.get(laneKey(topic, partition));
    if (lane === undefined || lane.queued < this.o.maxQueuedRecords) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      lane.waiters.push(done);
    });
  }

  /** Drops what the partition's lane holds and not yet started (its position moved: a seek). */
  invalidate(topic: string, partition: number): void {
    const lane = this.lanes.get(laneKey(topic, partition));
    if (lane !== undefined) this.drop(lane);
  }

  /** Drops what every lane holds and not yet started (a rebalance, a stop). */
  invalidateAll(): void {
    for (const lane of this.lanes.values()) this.drop(lane);
  }

  /** Runs `fn` in the partition's lane, between its runs (an assignment's restore, say). */
  exclusive<T>(topic: string, partition: number, fn: () => Promise<T>): Promise<T> {
    return this.inLane(this.lane(laneKey(topic, partition)), fn);
  }

  /** Records waiting in all lanes. */
  queuedRecords(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.queued;
    return n;
  }

  /**
   * How long the longest-silent run in progress has gone since it started or last beat, ms (0: no
   * run in progress). A run stuck on a call that never returns shows here; readiness reads it.
   */
  stalledMs(): number {
    let oldest = Infinity;
    for (const lane of this.lanes.values()) if (lane.lastBeat !== null) oldest = Math.min(oldest, lane.lastBeat);
    return oldest === Infinity ? 0 : Math.max(0, this.now() - oldest);
  }

  /** Resolves when no lane has a run in progress or waiting (after invalidateAll: when the runs in flight end). */
  async idle(): Promise<void> {
    for (;;) {
      const pumps = [...this.lanes.values()].flatMap((l) => (l.pumping === null ? [] : [l.pumping]));
      if (pumps.length === 0) return;
      await Promise.all(pumps);
    }
  }

  private lane(key: string): Lane<R, C> {
    let lane = this.lanes.get(key);
    if (lane === undefined) {
      lane = { queue: [], queued: 0, epoch: 0, pumping: null, tail: Promise.resolve(), waiters: [], busy: 0, lastBeat: null };
      this.lanes.set(key, lane);
    }
    return lane;
  }

  private drop(lane: Lane<R, C>): void {
    lane.epoch++;
    const dropped = lane.queue;
    lane.queue = [];
    if (this.o.onDropped) for (const q of dropped) this.o.onDropped(q.batch, q.context);
    lane.queued = 0;
    this.wake(lane);
  }

  private wake(lane: Lane<R, C>): void {
    const waiters = lane.waiters;
    lane.waiters = [];
    for (const w of waiters) w();
  }

  private inLane<T>(lane: Lane<R, C>, fn: () => Promise<T>): Promise<T> {
    lane.busy++;
    const run = lane.tail.then(fn, fn);
    lane.tail = run.then(
      () => this.settled(lane),
      () => this.settled(lane),
    );
    return run;
  }

  private settled(lane: Lane<R, C>): void {
    lane.busy--;
    this.forgetIfIdle(lane);
  }

  private pump(key: string, lane: Lane<R, C>): void {
    if (lane.pumping !== null) return;
    lane.pumping = (async () => {
      while (lane.queue.length > 0) await this.inLane(lane, () => this.runNext(key, lane));
    })().finally(() => {
      lane.pumping = null;
      // A batch handed in after the loop's last look, before this ran.
      if (lane.queue.length > 0) this.pump(key, lane);
      else this.forgetIfIdle(lane);
    });
  }

  /** A lane with nothing queued, running or waiting is removed (partitions come and go with rebalances). */
  private forgetIfIdle(lane: Lane<R, C>): void {
    if (lane.queue.length > 0 || lane.pumping !== null || lane.busy > 0 || lane.waiters.length > 0) return;
    for (const [key, l] of this.lanes) if (l === lane) this.lanes.delete(key);
  }

  /** Takes the batches queued now (the current epoch's, as many as fit) and processes them as one run. */
  private async runNext(key: string, lane: Lane<R, C>): Promise<void> {
    await this.acquire();
    try {
      const run = this.take(key, lane);
      if (run === null) return;
      lane.lastBeat = this.now();
      try {
        await this.o.process(run);
      } catch (err) {
        this.o.onError(run, err);
      } finally {
        lane.lastBeat = null;
      }
    } finally {
      this.release();
    }
  }

  private take(key: string, lane: Lane<R, C>): LaneRun<R, C> | null {
    const first = lane.queue.shift();
    if (first === undefined) return null;
    lane.queued -= first.batch.records.length;
    const epoch = lane.epoch;
    let last = first;
    let batches = 1;
    let records: readonly R[] = first.batch.records;
    // A batch of skipped records runs alone (it commits past them); batches of records go together.
    if (records.length > 0) {
      let parts: R[][] | null = null;
      let total = records.length;
      for (;;) {
        const next = lane.queue[0];
        if (next === undefined || next.batch.records.length === 0) break;
        if (total + next.batch.records.length > this.o.maxRunRecords) break;
        lane.queue.shift();
        lane.queued -= next.batch.records.length;
        (parts ??= [records as R[]]).push(next.batch.records as R[]);
        total += next.batch.records.length;
        last = next;
        batches++;
      }
      if (parts !== null) records = ([] as R[]).concat(...parts);
    }
    this.wake(lane);
    return {
      key,
      topic: first.batch.topic,
      partition: first.batch.partition,
      records,
      lastOffset: last.batch.lastOffset,
      context: last.context,
      queuedAt: first.queuedAt,
      batches,
      isCurrent: () => lane.epoch === epoch && this.lanes.get(key) === lane,
      beat: () => {
        if (lane.lastBeat !== null) lane.lastBeat = this.now();
      },
    };
  }

  private acquire(): Promise<void> {
    if (this.active < this.o.concurrency) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.slotWaiters.push(resolve));
  }

  private release(): void {
    const next = this.slotWaiters.shift();
    if (next !== undefined) next();
    else this.active--;
  }
}

/** The lane of a partition. */
export function laneKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}
