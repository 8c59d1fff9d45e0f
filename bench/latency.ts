/**
 * Event → decision latency of the fixed-load run, seen from outside the ingest process, through
 * the surfaces every version of the hot path keeps: the input topic, the ingest group's committed
 * offsets and MySQL's `transactions` table. Whatever ingest runs on main, it is measured the same way.
 *
 * - Event: each input record's broker timestamp (its producer's clock, this machine), read by a
 *   consumer of the input topic of the bench's own.
 * - Decision committed: the ingest commits its offsets in the Kafka transaction that carries the
 *   batch's alerts and dead letters, so the moment the group's committed offset passes a record is
 *   the moment its decision became visible to `read_committed`. A poller asks for the group's
 *   offsets every POLL_MS; a record's latency is the poll that first saw it committed, less its
 *   broker timestamp: an upper bound, late by at most one period plus one round trip.
 * - Decision durable in MySQL: the row of a valid transaction is committed with its decision in
 *   one MySQL transaction. A poller reads the rows that appeared (by id, the holes below the
 *   highest id seen asked again for a while: ids are reserved at insert and committed in any
 *   order) every POLL_MS; a row's latency is the poll that first saw it, less the broker timestamp
 *   of its record (src_partition, src_offset). Same resolution. A column written in the batch's
 *   transaction (ingested_at, decided_at) would be the time of the insert, not of the commit.
 * Dead-lettered and duplicate records have a committed latency and no MySQL row.
 */
import type { Admin, Consumer } from 'kafkajs';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { TxmonConfig } from '../config/config.ts';
import { createKafka } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import { createPool } from '../platform/mysql.ts';
import { sleep } from '../platform/retry.ts';

/** Polling period of both pollers, ms: the resolution of both latencies. */
export const POLL_MS = 10;

/** How long a hole in the ids is asked for again before it counts as an id never used. */
const HOLE_TTL_MS = 10_000;

/** At most this many holes are asked again (the oldest give way): bounds the poll's statement. */
const MAX_HOLES = 5_000;

export const COMMITTED_METHOD = `the ingest group's committed offsets polled every ${POLL_MS} ms (OffsetFetch): first poll that sees a record committed, less its broker timestamp; late by at most ${POLL_MS} ms + one round trip`;
export const DURABLE_METHOD = `rows of transactions polled every ${POLL_MS} ms by id (holes asked again for ${HOLE_TTL_MS / 1000} s): first poll that sees a row, less its record's broker timestamp; late by at most ${POLL_MS} ms + one query`;

/** When something became visible, per partition: (offset, ms since the epoch) in the order seen. */
type Seen = Map<number, Array<{ offset: number; at: number }>>;

export interface LatencyResult {
  /** Event → decision committed, ms, one per measured input record committed while probing. */
  committedMs: Float64Array;
  /** Event → row durable in MySQL, ms, one per measured record's row that appeared while probing. */
  durableMs: Float64Array;
  /** Event → decision committed for every record the probe saw, the warm-up's too (`stop(warmupMs)`). */
  allCommittedMs: Float64Array;
  /** Measured records the probe saw on the input topic (broker timestamp at least warmupMs after the first record's). */
  records: number;
  /** Polls that failed (a lost answer coarsens the resolution for that moment; nothing else). */
  failedPolls: number;
  /** When the first and the last measured record to be committed were seen committed (ms since the epoch); NaN if none was. */
  firstCommittedAt: number;
  /** Records seen committed after firstCommittedAt: the numerator of a commit rate over that span. */
  committedAfterFirst: number;
  lastCommittedAt: number;
}

/** A probe of the records produced to `topic` from now on; `stop()` gives their latencies. */
export class LatencyProbe {
  private readonly timestamps = new Map<number, { base: number; ts: number[] }>();
  private readonly commits: Seen = new Map();
  private readonly rows: Seen = new Map();
  private running = true;
  private failedPolls = 0;
  private pollers: Promise<void>[] = [];

  private constructor(
    private readonly topic: string,
    private readonly groupId: string,
    private readonly admin: Admin,
    private readonly consumer: Consumer,
    private readonly pool: Pool,
  ) {}

  /** Starts reading the input topic from its current end, and both pollers. */
  static async start(cfg: TxmonConfig, logger: Logger, topic: string): Promise<LatencyProbe> {
    const kafka = createKafka(cfg, logger, '-bench-latency');
    const admin = kafka.admin();
    await admin.connect();
    const groupId = `txmon-bench-latency-${Date.now()}`;
    // The group starts at the topic's end as it is now, so the probe sees every record produced next.
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({ groupId, topic, partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })) });
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
    const pool = createPool(cfg, { connectionLimit: 1 });
    const probe = new LatencyProbe(topic, cfg.ingest.groupId, admin, consumer, pool);
    for (const p of ends) probe.timestamps.set(p.partition, { base: Number(p.high), ts: [] });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const part = probe.timestamps.get(batch.partition);
        if (!part) return;
        for (const m of batch.messages) part.ts[Number(m.offset) - part.base] = Number(m.timestamp);
      },
    });
    probe.pollers = [probe.pollCommits(), probe.pollRows(await probe.maxId())];
    return probe;
  }

  /**
   * Stops the pollers and the consumer, once it has read the topic to its end; the latencies of what
   * was seen. Records with a broker timestamp less than `warmupMs` after the first record's (a
   * warm-up) are left out of the measured figures and kept in the `all` ones.
   */
  async stop(warmupMs = 0): Promise<LatencyResult> {
    const ends = await this.admin.fetchTopicOffsets(this.topic);
    const behind = () =>
      ends.some((p) => {
        const part = this.timestamps.get(p.partition);
        return part !== undefined && part.base + part.ts.length < Number(p.high);
      });
    const deadline = Date.now() + 10_000;
    while (behind() && Date.now() < deadline) await sleep(50);
    this.running = false;
    await Promise.all(this.pollers);
    await Promise.all([this.consumer.disconnect(), this.admin.disconnect(), this.pool.end()]);
    let first = Number.POSITIVE_INFINITY;
    for (const { ts } of this.timestamps.values()) for (const t of ts) if (t !== undefined && t < first) first = t;
    const measureFrom = first + warmupMs;
    const committed: number[] = [];
    const committedAt: number[] = [];
    const durable: number[] = [];
    const allCommitted: number[] = [];
    let records = 0;
    let firstCommittedAt = NaN;
    let lastCommittedAt = NaN;
    for (const [partition, { base, ts }] of this.timestamps) {
      // A commit event says: every offset below `offset` is committed, by `at`.
      const events = this.commits.get(partition) ?? [];
      let e = 0;
      for (let i = 0; i < ts.length; i++) {
        const t = ts[i];
        if (t === undefined) continue;
        while (e < events.length && (events[e] as { offset: number }).offset <= base + i) e++;
        const ev = events[e];
        const measured = t >= measureFrom;
        if (measured) records++;
        if (!ev) continue;
        allCommitted.push(ev.at - t);
        if (!measured) continue;
        committed.push(ev.at - t);
        committedAt.push(ev.at);
        firstCommittedAt = Number.isNaN(firstCommittedAt) ? ev.at : Math.min(firstCommittedAt, ev.at);
        lastCommittedAt = Number.isNaN(lastCommittedAt) ? ev.at : Math.max(lastCommittedAt, ev.at);
      }
      for (const r of this.rows.get(partition) ?? []) {
        const t = ts[r.offset - base];
        if (t !== undefined && t >= measureFrom) durable.push(r.at - t);
      }
    }
    return {
      committedMs: Float64Array.from(committed),
      durableMs: Float64Array.from(durable),
      allCommittedMs: Float64Array.from(allCommitted),
      records,
      firstCommittedAt,
      committedAfterFirst: committedAt.filter((at) => at > firstCommittedAt).length,
      lastCommittedAt,
      failedPolls: this.failedPolls,
    };
  }

  private async pollCommits(): Promise<void> {
    const last = new Map<number, number>();
    while (this.running) {
      try {
        const [t] = await this.admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] });
        const at = Date.now();
        for (const p of t?.partitions ?? []) {
          const offset = Number(p.offset);
          if (offset > (last.get(p.partition) ?? -1)) {
            last.set(p.partition, offset);
            this.seenAt(this.commits, p.partition, offset, at);
          }
        }
      } catch {
        this.failedPolls++;
      }
      await sleep(POLL_MS);
    }
  }

  private async maxId(): Promise<number> {
    const [rows] = await this.pool.query<RowDataPacket[]>('SELECT COALESCE(MAX(id), 0) AS id FROM transactions');
    return Number(rows[0]?.id ?? 0);
  }

  private async pollRows(startId: number): Promise<void> {
    let maxId = startId;
    // Ids below maxId not seen yet: reserved by a transaction not committed yet, or never used.
    const holes = new Map<number, number>();
    while (this.running) {
      try {
        const asked = [...holes.keys()];
        const [rows] = await this.pool.query<RowDataPacket[]>(
          `SELECT id, src_partition, src_offset FROM transactions WHERE id > ?${asked.length ? ' OR id IN (?)' : ''}`,
          asked.length ? [maxId, asked] : [maxId],
        );
        const at = Date.now();
        const ids = new Set<number>();
        let top = maxId;
        for (const r of rows) {
          const id = Number(r.id);
          ids.add(id);
          top = Math.max(top, id);
          holes.delete(id);
          this.seenAt(this.rows, Number(r.src_partition), Number(r.src_offset), at);
        }
        for (let id = maxId + 1; id < top; id++) if (!ids.has(id)) holes.set(id, at);
        maxId = top;
        // Oldest first (insertion order): the expired, then any beyond the cap.
        for (const [id, since] of holes) if (at - since > HOLE_TTL_MS || holes.size > MAX_HOLES) holes.delete(id);
      } catch {
        this.failedPolls++;
      }
      await sleep(POLL_MS);
    }
  }

  private seenAt(seen: Seen, partition: number, offset: number, at: number): void {
    let list = seen.get(partition);
    if (!list) seen.set(partition, (list = []));
    list.push({ offset, at });
  }
}
