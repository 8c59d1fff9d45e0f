/**
 * Runs an async refresh every interval, never two at once (a slow one is not overlapped: the tick
 * that finds it running is skipped), a failure handed to `failed` and the loop going on. What the
 * registries' watchers (models, rule sets) poll with.
 */
export class PollLoop {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly refresh: () => Promise<void>) {}

  /** Starts polling every `intervalMs` (unref'd: it never keeps the process alive). */
  start(intervalMs: number, failed: (err: unknown) => void): void {
    this.timer ??= setInterval(() => {
      this.running ??= this.refresh()
        .catch(failed)
        .finally(() => (this.running = null));
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a refresh in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
