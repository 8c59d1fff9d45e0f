/**
 * Bytes allocated by a Node process, read from its `--trace-gc-nvp` output (one line per GC on
 * stdout). Node 20 has no running total of allocation (`v8.getHeapStatistics()` has none, and the
 * inspector's sampling heap profiler keeps only a sample of what is still live), but V8 prints, for
 * every GC, the heap's size before and after it. What the heap allocated between two GCs is the size
 * before the second less the size after the first (per isolate: the line's `[pid:isolate]`), and
 * their sum between two moments is what the process allocated on the V8 heap in between, to within
 * the bytes allocated after the last GC before each moment (one young generation at most). Memory
 * outside the V8 heap (Buffer and ArrayBuffer contents) is not in it.
 *
 * Not V8's own `allocated=` field: on some scavenges of the ingest process (10–32 per run) it equals
 * `total_size_before`, the whole heap, instead of what was allocated since the previous GC, which
 * counted the live heap again each time (88.8 KB per transaction reported where the sampling heap
 * profiler, with collected objects, measured 40.8 KB; this way gives 41.6 KB).
 */

/** The option that makes V8 print the lines `GcTrace` reads. */
export const GC_TRACE_FLAG = '--trace-gc-nvp';

const ISOLATE = /^\[(\d+:0x[0-9a-f]+)\]/;
const BEFORE = /\btotal_size_before=(\d+)\b/;
const AFTER = /\btotal_size_after=(\d+)\b/;
const PAUSE = /\bpause=([\d.]+)\b/;
const KIND = /\bgc=(\w+)\b/;

/**
 * Sums what the heap allocated between GCs (total_size_before less the previous GC's
 * total_size_after, per isolate), across chunk boundaries; other lines are ignored.
 */
export class GcTrace {
  /** Bytes allocated, summed over the GCs seen so far (the first GC of an isolate counts its whole heap). */
  allocated = 0;
  /** GCs seen so far. */
  gcs = 0;
  /** Main-thread pause of those GCs, ms (V8's `pause=`; concurrent marking on helper threads is not in it). */
  pauseMs = 0;
  /** Scavenges (young generation) among them; the rest are mark-compacts of the whole heap. */
  scavenges = 0;
  private partial = '';
  /** Heap size after each isolate's last GC. */
  private readonly after = new Map<string, number>();

  /** Feeds a chunk of the process's stdout. */
  feed(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const before = BEFORE.exec(line);
      const after = AFTER.exec(line);
      if (!before || !after) continue;
      const isolate = ISOLATE.exec(line)?.[1] ?? '';
      this.allocated += Math.max(0, Number(before[1]) - (this.after.get(isolate) ?? 0));
      this.after.set(isolate, Number(after[1]));
      this.gcs++;
      this.pauseMs += Number(PAUSE.exec(line)?.[1] ?? 0);
      if (KIND.exec(line)?.[1] === 's') this.scavenges++;
    }
  }
}
