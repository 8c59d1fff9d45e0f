import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { writeOrWait } from './write-or-wait.ts';

/** A stream whose buffer holds one chunk and which takes a few ms per write. */
function slowStream(): Writable {
  return new Writable({
    highWaterMark: 1,
    write(_chunk, _enc, done) {
      setTimeout(done, 2);
    },
  });
}

describe('writeOrWait', () => {
  it('waits for every drain of a slow reader and leaves no listener behind', async () => {
    const s = slowStream();
    const baseline = { drain: s.listenerCount('drain'), close: s.listenerCount('close') };
    for (let i = 0; i < 25; i++) expect(await writeOrWait(s, `chunk ${i}\n`, 1_000)).toBe(true);
    expect(s.listenerCount('drain')).toBe(baseline.drain);
    expect(s.listenerCount('close')).toBe(baseline.close);
  });

  it('gives up on a reader that does not read in time, and on a closed stream', async () => {
    const stuck = new Writable({ highWaterMark: 1, write: () => {} }); // never calls back
    expect(await writeOrWait(stuck, 'a', 20)).toBe(false);
    expect(await writeOrWait(stuck, 'b', 20)).toBe(false);
    expect(stuck.listenerCount('close')).toBe(0);
    const closing = new Writable({ highWaterMark: 1, write: () => {} });
    const pending = writeOrWait(closing, 'a', 5_000);
    closing.destroy();
    expect(await pending).toBe(false);
  });
});
