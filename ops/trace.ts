/**
 * A recorded ops trace: the round points ops-watch's engine saw while a real pipeline ran
 * (ops/watch.ts `ScrapeReader`), with the faults injected into that run and when. `txmon ops
 * evaluate` and the tests replay it through the engine (ops/evaluate.ts). Pure: reading and writing
 * text; bench/ops-record.ts does the recording.
 *
 * The file is JSON lines, gzip-compressed when its name ends in `.gz`:
 *   {"format":"txmon-ops-trace/1", "scrapeMs", "targets", "recordedAt", "commit", "description", "slos"}
 *   {"series": id, "target", "key", "name", "as", "bounds"?} each series once, before its first value (bounds: a p99's buckets)
 *   {"t": epoch ms, "v": [[id, value], …]}                  one scrape round
 *   {"fault": name, "start", "end", "effect", "direction", "description"}
 */
import { gzipSync } from 'node:zlib';
import { gzipOrPlainText } from '../platform/gzip-text.ts';
import type { RoundPoint, SloLimit } from './watch.ts';

export const TRACE_FORMAT = 'txmon-ops-trace/1';

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
}

export interface Trace {
  readonly header: TraceHeader;
  readonly rounds: readonly TraceRound[];
  readonly faults: readonly TraceFault[];
}

/** Builds a trace's text as the rounds come (the recorder's side). */
export class TraceWriter {
  private readonly lines: string[] = [];
  private readonly ids = new Map<string, number>();

  constructor(header: TraceHeader) {
    this.lines.push(JSON.stringify({ format: TRACE_FORMAT, ...header }));
  }

  round(time: number, points: readonly RoundPoint[]): void {
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
    this.lines.push(JSON.stringify({ t: time, v }));
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

/** Reads a trace from its file's bytes (gzip detected by its magic bytes). */
export function readTrace(bytes: Buffer): Trace {
  const text = gzipOrPlainText(bytes);
  const lines = text.split('\n');
  let header: TraceHeader | null = null;
  const series = new Map<number, Omit<RoundPoint, 'value'>>();
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
      if (o.format !== TRACE_FORMAT)
        throw new TraceFormatError(`${at}: not a ${TRACE_FORMAT} header (format ${String(o.format)})`);
      if (!(typeof o.scrapeMs === 'number' && o.scrapeMs > 0))
        throw new TraceFormatError(`${at}: scrapeMs must be a positive number`);
      const { format: _f, ...h } = o;
      header = { targets: [], recordedAt: 0, commit: 'unknown', description: '', slos: [], ...h } as unknown as TraceHeader;
      return;
    }
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
      rounds.push({ time: o.t, points });
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
    } else throw new TraceFormatError(`${at}: neither a series, a round nor a fault`);
  });
  if (header === null) throw new TraceFormatError('empty file: no trace header');
  return { header, rounds, faults: faults.sort((a, b) => a.start - b.start) };
}
