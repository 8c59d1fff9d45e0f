/**
 * A recorded ops trace: the round points ops-watch's engine saw while a real pipeline ran
 * (ops/watch.ts `ScrapeReader`), with the faults injected into that run and when, and in
 * `txmon-ops-trace/2` each scrape's raw samples too, so that a recording made every second can be
 * read exactly as if scraped every k seconds (`resample`). `txmon ops evaluate` and the tests replay
 * it through the engine (ops/evaluate.ts). Pure: reading and writing text; bench/ops-record.ts does
 * the recording.
 *
 * The file is JSON lines, gzip-compressed when its name ends in `.gz`:
 *   {"format":"txmon-ops-trace/1", "scrapeMs", "targets", "recordedAt", "commit", "description", "slos"}   (or /2)
 *   {"series": id, "target", "key", "name", "as", "bounds"?} each series once, before its first value (bounds: a p99's buckets)
 *   {"t": epoch ms, "v": [[id, value], …], "raw"?: {…}}     one scrape round
 *   {"fault": name, "start", "end", "effect", "direction", "description"}
 * and in /2 only:
 *   {"sample": id, "target", "key", "name", "kind", "le"?}  each raw sample once, before its first value: its
 *       kind (gauge, counter or histogram) and a histogram's bucket upper bounds, ascending, with +Inf
 *       written as the string "+Inf" (JSON has no Infinity; Prometheus writes le="+Inf")
 *   a round's "raw": {"<target>": [[id, value], [id, [cumulative bucket counts…], count], …] or null}
 *       every sample of each target's scrape at the round's time, in the page's order (null: the
 *       target did not answer); a histogram's count that was not a number is written null.
 * Every sample is written every round, not only the ones that changed: gzip finds the unchanged
 * values in the rounds before (its 32 KB window holds several), so changed-only values saved 5 % of
 * the compressed size on the ingest's own metrics registry under simulated traffic (1,500 1-s
 * rounds of its 102 samples: 453 KB against 431 KB; a few hundred samples, about 1.5 MB), and would
 * have had to rebuild the page's order when a label set appears mid-page.
 */
import { gzipSync } from 'node:zlib';
import { gzipOrPlainText } from '../platform/gzip-text.ts';
import type { Sample } from './exposition.ts';
import { ScrapeReader, type ParsedScrape, type RoundPoint, type SloLimit } from './watch.ts';

/** Derived values only. */
export const TRACE_FORMAT = 'txmon-ops-trace/1';
/** Derived values and each scrape's raw samples. */
export const RAW_TRACE_FORMAT = 'txmon-ops-trace/2';

export interface TraceHeader {
  readonly scrapeMs: number;
  readonly targets: readonly string[];
  /** Epoch ms the recording started. */
  readonly recordedAt: number;
  /** The commit the pipeline ran (or `unknown`). */
  readonly commit: string;
  readonly description: string;
  /** The SLO limits the run was recorded under (the forecaster's; a breach is a value at or past one). */
  readonly slos: readonly SloLimit[];
}

/** A fault injected into the recorded run. */
export interface TraceFault {
  /** What was done, e.g. `broker-paused`, `malformed-flood`. */
  readonly name: string;
  /** Epoch ms it was injected and removed. */
  readonly start: number;
  readonly end: number;
  /** The metric its effect shows in (any series of it), and which way it moves. */
  readonly effect: string;
  readonly direction: 'up' | 'down';
  readonly description: string;
}

export interface TraceRound {
  readonly time: number;
  readonly points: readonly RoundPoint[];
  /** Each target's scrape at `time` (null: not answered); in a raw trace only. */
  readonly scrapes?: readonly ParsedScrape[];
}

export interface Trace {
  readonly header: TraceHeader;
  /** Whether it keeps each scrape's raw samples (`txmon-ops-trace/2`), so `resample` can read it. */
  readonly raw: boolean;
  readonly rounds: readonly TraceRound[];
  readonly faults: readonly TraceFault[];
}

/** Builds a trace's text as the rounds come (the recorder's side). */
export class TraceWriter {
  private readonly lines: string[] = [];
  private readonly ids = new Map<string, number>();
  /** Each raw sample's declaration (its line without the id) to its id: a key whose kind or buckets change is declared again. */
  private readonly samples = new Map<string, number>();
  private readonly raw: boolean;

  /** With `raw`, the trace is `txmon-ops-trace/2` and every round needs its scrapes; without, `/1` as before. */
  constructor(header: TraceHeader, opts: { readonly raw?: boolean } = {}) {
    this.raw = opts.raw ?? false;
    this.lines.push(JSON.stringify({ format: this.raw ? RAW_TRACE_FORMAT : TRACE_FORMAT, ...header }));
  }

  /** One round: its points and, in a raw trace, the parsed scrapes they were read from (each taken at `time`). */
  round(time: number, points: readonly RoundPoint[], raw?: readonly ParsedScrape[]): void {
    if ((raw !== undefined) !== this.raw)
      throw new Error(
        this.raw
          ? `a ${RAW_TRACE_FORMAT} trace needs each round's raw scrapes`
          : `raw scrapes need a writer made with { raw: true } (${RAW_TRACE_FORMAT})`,
      );
    const v: Array<[number, number]> = [];
    for (const p of points) {
      let id = this.ids.get(p.key);
      if (id === undefined) {
        id = this.ids.size;
        this.ids.set(p.key, id);
        this.lines.push(
          JSON.stringify({
            series: id,
            target: p.target,
            key: p.key,
            name: p.name,
            as: p.as,
            ...(p.bounds && { bounds: p.bounds }),
          }),
        );
      }
      v.push([id, p.value]);
    }
    this.lines.push(JSON.stringify({ t: time, v, ...(raw && { raw: this.rawValues(time, raw) }) }));
  }

  private rawValues(time: number, scrapes: readonly ParsedScrape[]): Record<string, unknown[] | null> {
    const out: Record<string, unknown[] | null> = {};
    for (const { target, scrape } of scrapes) {
      // A JSON object puts integer-like keys first: the targets would come back in another order.
      if (/^(0|[1-9]\d*)$/.test(target) || Object.hasOwn(out, target))
        throw new RangeError(`target ${JSON.stringify(target)}: a raw trace needs targets named once each, not as integers`);
      if (scrape !== null && scrape.time !== time)
        throw new RangeError(`${target}'s scrape was taken at ${scrape.time}, not at the round's ${time}`);
      out[target] =
        scrape === null
          ? null
          : [...scrape.samples].map(([key, s]) => {
              const id = this.sampleId(target, key, s);
              return s.kind === 'histogram' ? [id, s.buckets.map(([, c]) => c), s.count] : [id, s.value];
            });
    }
    return out;
  }

  private sampleId(target: string, key: string, s: Sample): number {
    const declared = JSON.stringify({
      target,
      key,
      name: s.name,
      kind: s.kind,
      ...(s.kind === 'histogram' && { le: s.buckets.map(([le]) => (le === Infinity ? '+Inf' : le)) }),
    });
    let id = this.samples.get(declared);
    if (id === undefined) {
      id = this.samples.size;
      this.samples.set(declared, id);
      this.lines.push(`{"sample":${id},${declared.slice(1)}`);
    }
    return id;
  }

  fault(f: TraceFault): void {
    const { name, ...rest } = f;
    this.lines.push(JSON.stringify({ fault: name, ...rest }));
  }

  /** The file's bytes: gzip-compressed when `gzip`. */
  bytes(gzip: boolean): Buffer {
    const text = Buffer.from(`${this.lines.join('\n')}\n`);
    return gzip ? gzipSync(text, { level: 9 }) : text;
  }
}

/** Thrown for a file that is not a trace, naming the line. */
export class TraceFormatError extends Error {}

/** A raw sample as declared: what each of its values is read as. */
interface SampleDeclaration {
  readonly target: string;
  readonly key: string;
  readonly name: string;
  readonly kind: Sample['kind'];
  /** A histogram's bucket upper bounds. */
  readonly le?: readonly number[];
}

/** Reads a trace from its file's bytes (gzip detected by its magic bytes): `txmon-ops-trace/1` or `/2`. */
export function readTrace(bytes: Buffer): Trace {
  const text = gzipOrPlainText(bytes);
  const lines = text.split('\n');
  let header: TraceHeader | null = null;
  let raw = false;
  const series = new Map<number, Omit<RoundPoint, 'value'>>();
  const samples = new Map<number, SampleDeclaration>();
  const rounds: TraceRound[] = [];
  const faults: TraceFault[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const at = `line ${i + 1}`;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new TraceFormatError(`${at}: not JSON`);
    }
    if (header === null) {
      if (o.format !== TRACE_FORMAT && o.format !== RAW_TRACE_FORMAT)
        throw new TraceFormatError(`${at}: not a ${TRACE_FORMAT} or /2 header (format ${String(o.format)})`);
      if (!(typeof o.scrapeMs === 'number' && o.scrapeMs > 0))
        throw new TraceFormatError(`${at}: scrapeMs must be a positive number`);
      raw = o.format === RAW_TRACE_FORMAT;
      const { format: _f, ...h } = o;
      header = { targets: [], recordedAt: 0, commit: 'unknown', description: '', slos: [], ...h } as unknown as TraceHeader;
      return;
    }
    if ((o.sample !== undefined || o.raw !== undefined) && !raw)
      throw new TraceFormatError(`${at}: raw samples in a ${TRACE_FORMAT} file (they need ${RAW_TRACE_FORMAT})`);
    if (typeof o.series === 'number') {
      if (
        typeof o.key !== 'string' ||
        typeof o.name !== 'string' ||
        typeof o.target !== 'string' ||
        !['gauge', 'rate', 'p99'].includes(o.as as string)
      )
        throw new TraceFormatError(`${at}: a series needs target, key, name and as (gauge, rate or p99)`);
      const bounds = Array.isArray(o.bounds) && o.bounds.every((b) => typeof b === 'number') ? (o.bounds as number[]) : undefined;
      series.set(o.series, {
        target: o.target,
        key: o.key,
        name: o.name,
        as: o.as as RoundPoint['as'],
        ...(bounds && { bounds }),
      });
    } else if (typeof o.sample === 'number') {
      samples.set(o.sample, sampleDeclaration(o, at));
    } else if (typeof o.t === 'number' && Array.isArray(o.v)) {
      const last = rounds.at(-1);
      if (last !== undefined && o.t < last.time) throw new TraceFormatError(`${at}: rounds out of time order`);
      const points = (o.v as unknown[]).map((pair) => {
        const [id, value] = pair as [number, number];
        const s = series.get(id);
        if (s === undefined || typeof value !== 'number')
          throw new TraceFormatError(`${at}: value of an undeclared series ${String(id)}`);
        return { ...s, value };
      });
      const scrapes = o.raw === undefined ? undefined : rawScrapes(o.raw, o.t, samples, at);
      rounds.push({ time: o.t, points, ...(scrapes && { scrapes }) });
    } else if (typeof o.fault === 'string') {
      if (
        typeof o.start !== 'number' ||
        typeof o.end !== 'number' ||
        !(o.end >= o.start) ||
        typeof o.effect !== 'string' ||
        !['up', 'down'].includes(o.direction as string)
      )
        throw new TraceFormatError(`${at}: a fault needs start <= end, effect and direction (up or down)`);
      faults.push({
        name: o.fault,
        start: o.start,
        end: o.end,
        effect: o.effect,
        direction: o.direction as 'up' | 'down',
        description: typeof o.description === 'string' ? o.description : '',
      });
    } else throw new TraceFormatError(`${at}: neither a series, a sample, a round nor a fault`);
  });
  if (header === null) throw new TraceFormatError('empty file: no trace header');
  return { header, raw, rounds, faults: faults.sort((a, b) => a.start - b.start) };
}

function sampleDeclaration(o: Record<string, unknown>, at: string): SampleDeclaration {
  const { target, key, name, kind, le } = o;
  if (
    typeof target !== 'string' ||
    typeof key !== 'string' ||
    typeof name !== 'string' ||
    (kind !== 'gauge' && kind !== 'counter' && kind !== 'histogram')
  )
    throw new TraceFormatError(`${at}: a sample needs target, key, name and kind (gauge, counter or histogram)`);
  if (kind !== 'histogram') return { target, key, name, kind };
  const bounds = Array.isArray(le) ? le.map((b: unknown) => (b === '+Inf' ? Infinity : b)) : [];
  if (
    !Array.isArray(le) ||
    !bounds.every((b, j) => typeof b === 'number' && !Number.isNaN(b) && (j === 0 || b >= (bounds[j - 1] as number)))
  )
    throw new TraceFormatError(`${at}: a histogram sample needs le: its bucket bounds, ascending, +Inf as "+Inf"`);
  return { target, key, name, kind, le: bounds as number[] };
}

/** A round's `raw`: each target's scrape rebuilt (taken at the round's time), or null when it did not answer. */
function rawScrapes(raw: unknown, time: number, samples: ReadonlyMap<number, SampleDeclaration>, at: string): ParsedScrape[] {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new TraceFormatError(`${at}: raw must be an object of each target's samples`);
  return Object.entries(raw).map(([target, values]: [string, unknown]) => {
    if (values === null) return { target, scrape: null };
    if (!Array.isArray(values)) throw new TraceFormatError(`${at}: ${target}'s raw samples must be a list or null`);
    const scraped = new Map<string, Sample>();
    for (const item of values as unknown[]) {
      const [id, value, count] = Array.isArray(item) ? (item as unknown[]) : [];
      const d = samples.get(id as number);
      if (d === undefined || d.target !== target)
        throw new TraceFormatError(`${at}: ${target}: value of an undeclared sample ${JSON.stringify(id)}`);
      if (scraped.has(d.key)) throw new TraceFormatError(`${at}: ${target}: ${d.key} twice`);
      const counts = Array.isArray(value) ? (value as unknown[]) : [];
      if (d.kind !== 'histogram') {
        if ((item as unknown[]).length !== 2 || typeof value !== 'number')
          throw new TraceFormatError(`${at}: ${target}: ${d.key} needs [id, value]`);
        scraped.set(d.key, { kind: d.kind, name: d.name, value });
      } else if (
        (item as unknown[]).length !== 3 ||
        counts.length !== d.le?.length ||
        !counts.every((c) => typeof c === 'number') ||
        !(typeof count === 'number' || count === null)
      )
        throw new TraceFormatError(`${at}: ${target}: ${d.key} needs [id, [a count per bucket bound], count]`);
      else
        scraped.set(d.key, {
          kind: 'histogram',
          name: d.name,
          buckets: d.le.map((le, j) => [le, counts[j] as number] as const),
          count: count ?? NaN,
        });
    }
    return { target, scrape: { time, samples: scraped } };
  });
}

/**
 * The trace as if scraped every `every`-th round (the first, then every `every` after it): each
 * kept round's points rebuilt from its raw samples by a fresh `ScrapeReader(keep)`, rates and p99s
 * over the longer interval as a scraper that slow would have read them; `scrapeMs` is `every` times
 * the recorded one, the faults and SLOs are the same. Points a recorder added from elsewhere than
 * the scrapes are not rebuilt. `every` 1 gives the recorded points back (with the recorder's `keep`).
 */
export function resample(
  trace: Trace,
  every: number,
  keep: (name: string) => boolean,
  shareBy?: (name: string) => string | undefined,
): Trace {
  if (!(Number.isInteger(every) && every > 0)) throw new RangeError(`every must be a positive integer, got ${every}`);
  if (!trace.raw)
    throw new RangeError(
      `a ${TRACE_FORMAT} trace keeps derived values only: it cannot be read at another scrape interval (${RAW_TRACE_FORMAT} keeps the raw samples)`,
    );
  const reader = new ScrapeReader(keep, shareBy);
  const rounds = trace.rounds
    .filter((_, i) => i % every === 0)
    .map(({ time, scrapes }) => {
      if (scrapes === undefined) throw new RangeError(`the round at ${time} keeps no raw samples`);
      return { time, points: reader.readScrapes(time, scrapes), scrapes };
    });
  return { ...trace, header: { ...trace.header, scrapeMs: trace.header.scrapeMs * every }, rounds };
}
