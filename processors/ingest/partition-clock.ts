/**
 * The event-time clock of each input partition: the max event time of the valid records before a
 * given offset. It is committed as offset metadata with the offset (in its Kafka transaction, or the
 * group member's offset commit when the batch publishes nothing), so
 * after a crash or a rebalance the partition's next owner resumes from exactly the clock the
 * committed offset had, and late flags are the same as in one clean pass.
 */

export interface CommittedOffset {
  offset: string;
  metadata: string | null;
}

export type FetchCommitted = (topic: string, partition: number) => Promise<CommittedOffset | undefined>;

/** Offset metadata: versioned JSON, small. */
export function encodeClock(maxEventTime: number): string | null {
  return Number.isFinite(maxEventTime) ? JSON.stringify({ v: 1, maxEventTime }) : null;
}

/** The max event time in offset metadata, or -Infinity when there is none (or it is not ours). */
export function decodeClock(metadata: string | null | undefined): number {
  if (!metadata) return Number.NEGATIVE_INFINITY;
  try {
    const parsed = JSON.parse(metadata) as { v?: unknown; maxEventTime?: unknown };
    return parsed.v === 1 && typeof parsed.maxEventTime === 'number' && Number.isFinite(parsed.maxEventTime)
      ? parsed.maxEventTime
      : Number.NEGATIVE_INFINITY;
  } catch {
    return Number.NEGATIVE_INFINITY;
  }
}

export class PartitionClocks {
  private readonly clocks = new Map<string, { nextOffset: bigint; maxEventTime: number }>();
  /** The committed offset each partition's last at() saw: this instance's own commit, or Kafka's. */
  private readonly committedAt = new Map<string, bigint | undefined>();

  constructor(private readonly fetchCommitted: FetchCommitted) {}

  /** Max event time of the valid records before `offset`. */
  async at(topic: string, partition: number, offset: string): Promise<number> {
    const at = BigInt(offset);
    const known = this.clocks.get(`${topic}/${partition}`);
    // Known and not ahead of `offset` (records in between, if any, were skipped: none was valid).
    // Otherwise (first batch after an assignment, a batch re-read after a rebalance): the clock
    // committed with the offset. Records the consumer skipped before `offset` (transaction markers)
    // carry no event time; after a manual seek past the commit this is the best clock known.
    const key = `${topic}/${partition}`;
    if (known && known.nextOffset <= at) {
      this.committedAt.set(key, known.nextOffset);
      return known.maxEventTime;
    }
    const committed = await this.fetchCommitted(topic, partition);
    const committedOffset = committed && BigInt(committed.offset) >= 0n ? BigInt(committed.offset) : undefined;
    this.committedAt.set(key, committedOffset);
    // Below the committed offset (a restore replays records Kafka committed: docs/state.md), the
    // records up to it are replays whose late flags MySQL holds, so the committed clock is the one
    // that flags the records after it, as the first pass did.
    if (committed && committedOffset !== undefined) return decodeClock(committed.metadata);
    return Number.NEGATIVE_INFINITY;
  }

  /** The group's committed offset of a partition, asked of Kafka now (undefined: none). */
  async committedOffset(topic: string, partition: number): Promise<bigint | undefined> {
    const c = await this.fetchCommitted(topic, partition);
    return c && BigInt(c.offset) >= 0n ? BigInt(c.offset) : undefined;
  }

  /** Drops everything remembered (after a rebalance): the next at() of each partition asks Kafka. */
  forget(): void {
    this.clocks.clear();
    this.committedAt.clear();
  }

  /** Drops what is remembered of one partition: its next at() asks Kafka. */
  forgetPartition(topic: string, partition: number): void {
    this.clocks.delete(`${topic}/${partition}`);
    this.committedAt.delete(`${topic}/${partition}`);
  }

  /** The partition's committed offset as the last at() saw it (undefined: none, or not asked yet). */
  committed(topic: string, partition: number): bigint | undefined {
    return this.committedAt.get(`${topic}/${partition}`);
  }

  /** Records the clock once the records before `nextOffset` are committed. */
  advance(topic: string, partition: number, nextOffset: string, maxEventTime: number): void {
    this.clocks.set(`${topic}/${partition}`, { nextOffset: BigInt(nextOffset), maxEventTime });
  }
}
