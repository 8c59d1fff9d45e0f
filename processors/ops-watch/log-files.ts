/**
 * The processors' log files as ops-watch reads them (issue 22, TXMON_OPS_LOG_FILES): each round,
 * the complete lines appended since the last round, like `tail -F`. It starts at each file's end
 * (what was logged before ops-watch started is not this run's baseline), follows a file that is
 * truncated or replaced by rotation from its start, waits for a file that does not exist yet, and
 * reads at most `maxBytes` a file a round (the rest next round), so a runaway log cannot stall it.
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
}

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
});

export class LogFileTail {
  private readonly files = new Map<string, FileState>();
  private started = false;

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
          const s = fresh(first ? st.size : 0, st.ino);
          if (first) s.head = await readAt(path, 0, Math.min(HEAD_BYTES, st.size));
          this.files.set(path, s);
          if (first) continue;
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
        for (const p of parts) lines.push(p.endsWith('\r') ? p.slice(0, -1) : p);
      } catch (err) {
        failed.push({ path, error: (err as Error).message });
      }
    }
    return { lines, failed };
  }
}
