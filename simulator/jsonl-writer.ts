/** A JSON-lines file written as a stream, honouring backpressure. */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';

export class JsonlWriter {
  private failure: unknown;

  private constructor(private readonly out: WriteStream) {
    // Keep the error for the next write or close rather than letting it surface as an unhandled event.
    out.on('error', (err) => (this.failure ??= err));
  }

  /** Creates (or truncates) the file. */
  static async open(path: string): Promise<JsonlWriter> {
    const out = createWriteStream(path, { encoding: 'utf8' });
    await once(out, 'open');
    return new JsonlWriter(out);
  }

  /** Appends one line; waits when the stream's buffer is full. */
  async write(value: unknown): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (!this.out.write(`${JSON.stringify(value)}\n`)) await once(this.out, 'drain');
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    this.out.end();
    await finished(this.out);
    if (this.failure !== undefined) throw this.failure;
  }

  /** Closes without flushing, after a failure elsewhere. */
  destroy(): void {
    this.out.destroy();
  }
}
