/**
 * How much a long-running process lets its heap grow before collecting. V8's own policy lets the
 * heap of a process that allocates fast and keeps little grow to several times its live data: the
 * ingest processor, 70–100 MB live, reached a 500+ MB RSS in the bench. A growing factor is a soft
 * limit: the heap still grows as far as the live data needs (a hard cap such as
 * --max-old-space-size would crash a batch larger than it, again on every retry).
 */
import { setFlagsFromString } from 'node:v8';

/** Sets V8's heap growing factor to 1 + percent/100 for this process; 0 leaves V8's policy. */
export function applyHeapGrowingPercent(percent: number): void {
  if (!Number.isInteger(percent) || percent < 0) throw new RangeError(`heap growing percent ${percent}`);
  // V8 reads this flag at every full collection, so setting it after start-up takes effect.
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
