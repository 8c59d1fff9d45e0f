/** Writing to a slow HTTP client without buffering without bound, and without leaking listeners. */

/**
 * Writes `chunk`; when the stream's buffer is full, waits for it to drain. Resolves false when the
 * stream closed or did not drain within `timeoutMs` (the caller ends the response). The listeners
 * of whichever event did not happen are removed, so a long stream to a slow reader does not gather
 * one per wait.
 */
export function writeOrWait(stream: NodeJS.WritableStream, chunk: string, timeoutMs: number): Promise<boolean> {
  if (stream.write(chunk)) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const finish = (drained: boolean) => {
      clearTimeout(timer);
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      resolve(drained);
    };
    const onDrain = () => finish(true);
    const onClose = () => finish(false);
    const timer = setTimeout(() => finish(false), timeoutMs);
    stream.once('drain', onDrain);
    stream.once('close', onClose);
  });
}
