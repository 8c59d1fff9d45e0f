/**
 * Bytes allocated by a Node process, read from its `--trace-gc-nvp` output (one line per GC on
 * stdout). Node 20 has no running total of allocation (`v8.getHeapStatistics()` has none, and the
 * inspector's sampling heap profiler keeps only a sample of what is still live), but V8 prints, for
 * every GC, `allocated=<bytes>`: what the heap allocated since the previous GC. Their sum between
 * two moments is what the process allocated on the V8 heap in between, to within the bytes
 * allocated after the last GC before each moment (one young generation at most). Memory outside
 * the V8 heap (Buffer and ArrayBuffer contents) is not in it.
 */

/** The option that makes V8 print the lines `GcTrace` reads. */
export const GC_TRACE_FLAG = '--trace-gc-nvp';

const ALLOCATED = /\ballocated=(\d+)\b/;

/** Sums `allocated=` of the GC lines fed to it, across chunk boundaries; other lines are ignored. */
export class GcTrace {
  /** Bytes allocated, summed over the GCs seen so far. */
  allocated = 0;
  /** GCs seen so far. */
  gcs = 0;
  private partial = '';

  /** Feeds a chunk of the process's stdout. */
  feed(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = ALLOCATED.exec(line);
      if (m) {
        this.allocated += Number(m[1]);
        this.gcs++;
      }
    }
  }
}
