/**
 * Reads for probe and scrape paths (/metrics, /readyz, the pipeline view): a scrape must answer in
 * bounded time whatever the dependency does. A reading has a deadline (a read still pending
 * `deadlineMs` after it started counts as failed), a caller's wait (a caller waits at most `waitMs`,
 * then gets the last settled reading while the read goes on), one read at a time (concurrent callers share the read
 * in flight, and a read that outlives its deadline is not started again beside itself), a freshness
 * period (no new read within `freshMs` of the last one settling, success or failure: stamped when
 * it settles, not when it starts), and the last known value with its age when the latest read
 * failed or is late. Pure timing logic: the read itself is passed in.
 */

/** What a caller gets: the last known value (null: none yet), its age, and why the latest read failed. */
export interface Reading<T> {
  value: T | null;
  /** Milliseconds since `value` was read; null without a value. */
  ageMs: number | null;
  /** Why the latest read did not give a value ('timeout' or 'error'); null when it did. */
  failure: 'timeout' | 'error' | null;
}

export interface DeadlineReadOptions {
  /** A read still pending this long after it started counts as failed ('timeout'). */
  deadlineMs: number;
  /**
   * How long a caller waits for a pending read, from the call (default and at most `deadlineMs`,
   * counted from the read's start). Past it, with the read still within its deadline, the caller
   * gets the last settled reading as it stands (its value, age and failure): a scrape answers
   * within `waitMs` and shows the new reading on a later call.
   */
  waitMs?: number;
  /** A settled read (value or failure) is reused for this long. */
  freshMs: number;
  /**
   * A read still pending this long after it started is given up on (a later caller starts another):
   * a client that never settles a request must not freeze the probe. Default: 15 × deadlineMs.
   */
  abandonMs?: number;
  /** Told of every read's outcome (for a metric and a log line: failures are never silent). */
  onOutcome?: (outcome: 'ok' | 'timeout' | 'error', err?: unknown) => void;
  now?: () => number;
}

/** A reading with a deadline, single-flight, reused while fresh, the last value served when late. */
export class DeadlineRead<T> {
  private last: { value: T; at: number } | null = null;
  private failure: Reading<T>['failure'] = null;
  private settledAt = Number.NEGATIVE_INFINITY;
  private inflight: { done: Promise<void>; startedAt: number; timedOut: boolean; seq: number } | null = null;
  /** Reads started, and the latest one whose outcome was kept: an abandoned read settling late changes nothing. */
  private started = 0;
  private kept = 0;
  private readonly now: () => number;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly opts: DeadlineReadOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** The reading: waits at most `waitMs`, and never past the current read's deadline. */
  async get(): Promise<Reading<T>> {
    let now = this.now();
    const calledAt = now;
    const abandonMs = this.opts.abandonMs ?? 15 * this.opts.deadlineMs;
    if (this.inflight && now - this.inflight.startedAt >= abandonMs) this.inflight = null;
    if (!this.inflight && now - this.settledAt >= this.opts.freshMs) this.start(now);
    const flight = this.inflight;
    if (flight) {
      const deadline = flight.startedAt + this.opts.deadlineMs;
      const left = Math.min(deadline, calledAt + (this.opts.waitMs ?? this.opts.deadlineMs)) - now;
      if (left > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([flight.done, new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))]);
        clearTimeout(timer);
      }
      now = this.now();
      // Past its deadline and still pending: the read counts as failed until it settles. Only past
      // the caller's wait: the last settled reading stands.
      if (now >= deadline) this.markTimedOut(flight);
    }
    return { value: this.last?.value ?? null, ageMs: this.last ? Math.max(0, now - this.last.at) : null, failure: this.failure };
  }

  /** A read still in flight past its deadline: failed ('timeout') until it settles, counted once. */
  private markTimedOut(flight: { timedOut: boolean }): void {
    if (this.inflight !== flight || flight.timedOut) return;
    flight.timedOut = true;
    this.failure = 'timeout';
    this.opts.onOutcome?.('timeout');
  }

  private start(now: number): void {
    const flight = { startedAt: now, timedOut: false, done: Promise.resolve(), seq: ++this.started };
    // Past its deadline and still pending, the read counts as failed whether or not a caller is
    // waiting just then (a caller's timer may fire a millisecond before the deadline's).
    const overdue = setTimeout(() => this.markTimedOut(flight), this.opts.deadlineMs);
    overdue.unref?.();
    const keep = () => {
      clearTimeout(overdue);
      if (flight.seq < this.kept) return false;
      this.kept = flight.seq;
      if (this.inflight === flight) this.inflight = null;
      return true;
    };
    flight.done = this.read().then(
      (value) => {
        if (!keep()) return;
        const at = this.now();
        this.last = { value, at };
        this.failure = null;
        this.settledAt = at;
        if (!flight.timedOut) this.opts.onOutcome?.('ok');
      },
      (err: unknown) => {
        if (!keep()) return;
        this.failure = flight.timedOut ? 'timeout' : 'error';
        this.settledAt = this.now();
        // A late failure was already counted as a timeout.
        if (!flight.timedOut) this.opts.onOutcome?.('error', err);
      },
    );
    this.inflight = flight;
  }
}
