/**
 * Names the step a long test setup is stuck in. A hook that times out says only that it timed out
 * (and the test logger is silent), so a step still running after `warnAfterMs` says so on stderr,
 * again every `warnAfterMs`, with its elapsed time.
 */
export async function slowStep<T>(name: string, fn: () => Promise<T>, warnAfterMs = 30_000): Promise<T> {
  const started = Date.now();
  const timer = setInterval(() => {
    process.stderr.write(`[setup] still in "${name}" after ${Math.round((Date.now() - started) / 1000)} s\n`);
  }, warnAfterMs);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}
