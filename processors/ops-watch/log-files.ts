/**
 * The processors' log files as ops-watch reads them (issue 22, TXMON_OPS_LOG_FILES): each round,
 * the complete lines appended since the last round, like `tail -F`. It starts at each file's end
 * (what was logged before ops-watch started is not this run's baseline; a line half written then is
 * skipped whole), follows a file that is truncated or replaced by rotation from its start, waits for
 * a file that does not exist yet, and reads at most `maxBytes` a file a round (the rest next round)
 * and at most `MAX_LINE_CHARS` of a line, so a runaway log cannot stall it or fill its memory. Lines
 * written to a rotated file after the last round read it and before it was renamed are not read.
 */
import { open, stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';

export interface TailRead {
  readonly lines: string[];
  /** Files that could not be read this round, with why. */
  readonly failed: Array<{ path: string; error: string }>;
}

interface FileState {
  offset: number;
  /** The inode: a rotation replaces the file under the same name. */
  ino: number | null;
  /** A line not yet ended by a newline. */
  partial: string;
  /** Keeps a character split between two reads whole. */
  decoder: StringDecoder;
  /** The file's first bytes when it was last read from: other bytes there mean another file (truncated and rewritten). */
  head: Buffer;
  /** Drop what comes before the next newline: the rest of a line begun before ops-watch started, or cut at MAX_LINE_CHARS. */
  skipLine: boolean;
}

/** Characters of a line kept; the rest of a longer one is dropped (the kept part is its message's start). */
export const MAX_LINE_CHARS = 16_384;

const HEAD_BYTES = 64;

async function readAt(path: string, position: number, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(length);
    const { bytesRead } = await fh.read(buf, 0, length, position);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

const fresh = (offset: number, ino: number | null): FileState => ({
  offset,
  ino,
  partial: '',
  decoder: new StringDecoder('utf8'),
  head: Buffer.alloc(0),
  skipLine: false,
});

export class LogFileTail {
  private readonly files = new Map<string, FileState>();
  private started = false;
  /** Files that existed but could not be read at the start: read from their end once they can be. */
  private readonly startAtEnd = new Set<string>();

  constructor(
    private readonly paths: readonly string[],
    private readonly maxBytes = 8 * 1024 * 1024,
  ) {}

  /** The lines appended since the last call (the first call only notes where each file ends). */
  async read(): Promise<TailRead> {
    const lines: string[] = [];
    const failed: TailRead['failed'] = [];
    const first = !this.started;
    this.started = true;
    for (const path of this.paths) {
      try {
        const st = await stat(path).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return null;
          throw err;
        });
        if (st !== null && !st.isFile()) throw new Error('not a regular file');
        const state = this.files.get(path);
        if (st === null) {
          // Not there (yet, or between a rotation's rename and the new file): its lines start at 0.
          this.files.set(path, fresh(0, null));
          continue;
        }
        if (state === undefined) {
          const atEnd = first || this.startAtEnd.has(path);
          const s = fresh(atEnd ? st.size : 0, st.ino);
          if (atEnd) {
            s.head = await readAt(path, 0, Math.min(HEAD_BYTES, st.size));
            // Begun mid-line: the rest of that line is not a line.
            s.skipLine = st.size > 0 && (await readAt(path, st.size - 1, 1))[0] !== 0x0a;
          }
          this.files.set(path, s);
          this.startAtEnd.delete(path);
          if (atEnd) continue;
        }
        let s = this.files.get(path) as FileState;
        const head = s.head.length === 0 ? s.head : await readAt(path, 0, s.head.length);
        if ((s.ino !== null && s.ino !== st.ino) || st.size < s.offset || !head.equals(s.head)) {
          // Rotated (another file under the name), truncated, or truncated and rewritten past where
          // it was read to (its first bytes differ): from its start.
          s = fresh(0, st.ino);
          this.files.set(path, s);
        }
        s.ino = st.ino;
        if (st.size === s.offset) continue;
        const bytes = await readAt(path, s.offset, Math.min(st.size - s.offset, this.maxBytes));
        if (s.head.length < HEAD_BYTES && s.offset < HEAD_BYTES)
          s.head = Buffer.concat([s.head, bytes.subarray(0, HEAD_BYTES - s.offset)]);
        s.offset += bytes.length;
        const parts = (s.partial + s.decoder.write(bytes)).split('\n');
        s.partial = parts.pop() ?? '';
        if (s.skipLine && parts.length > 0) {
          parts.shift();
          s.skipLine = false;
        }
        if (s.skipLine) s.partial = '';
        else if (s.partial.length > MAX_LINE_CHARS) {
          // A line longer than the cap: its start is kept as a line, the rest dropped up to its newline.
          parts.push(s.partial.slice(0, MAX_LINE_CHARS));
          s.partial = '';
          s.skipLine = true;
        }
        for (const p of parts) {
          const line = p.endsWith('\r') ? p.slice(0, -1) : p;
          lines.push(line.length > MAX_LINE_CHARS ? line.slice(0, MAX_LINE_CHARS) : line);
        }
      } catch (err) {
        failed.push({ path, error: (err as Error).message });
        // There but unreadable at the start: what it holds then is not this run's either.
        if (first) this.startAtEnd.add(path);
      }
    }
    return { lines, failed };
  }
}
