import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, renameSync, rmdirSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogFileTail, MAX_LINE_CHARS } from './log-files.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'txmon-tail-'));

describe('LogFileTail', () => {
  it('starts at the end, then returns the complete lines appended since, keeping a partial line for later', async () => {
    const path = join(dir(), 'ingest.log');
    writeFileSync(path, 'before ops-watch\n');
    const tail = new LogFileTail([path]);
    expect(await tail.read()).toEqual({ lines: [], failed: [] });
    appendFileSync(path, 'one\ntwo\r\nthr');
    expect((await tail.read()).lines).toEqual(['one', 'two']);
    appendFileSync(path, 'ee\n');
    expect((await tail.read()).lines).toEqual(['three']);
    expect((await tail.read()).lines).toEqual([]);
  });

  it('follows a truncated file and a rotated one from their start', async () => {
    const d = dir();
    const path = join(d, 'ingest.log');
    writeFileSync(path, 'old\n');
    const tail = new LogFileTail([path]);
    await tail.read();
    truncateSync(path, 0);
    appendFileSync(path, 'after truncation\n');
    expect((await tail.read()).lines).toEqual(['after truncation']);
    // Rotation: the file renamed away, a new one under the name (it may already be longer than the offset).
    renameSync(path, join(d, 'ingest.log.1'));
    writeFileSync(path, 'new file, line one, which is longer than the old offset\nline two\n');
    expect((await tail.read()).lines).toEqual(['new file, line one, which is longer than the old offset', 'line two']);
  });

  it('waits for a file that does not exist yet, then reads it from its start', async () => {
    const path = join(dir(), 'later.log');
    const tail = new LogFileTail([path]);
    expect(await tail.read()).toEqual({ lines: [], failed: [] });
    writeFileSync(path, 'first\n');
    expect((await tail.read()).lines).toEqual(['first']);
  });

  it('reads at most maxBytes a round, and keeps a character split between reads whole', async () => {
    const path = join(dir(), 'big.log');
    writeFileSync(path, '');
    const tail = new LogFileTail([path], 5);
    await tail.read();
    appendFileSync(path, 'abcdé\nxyz\n'); // é is two bytes: the first read of 5 ends inside it
    expect((await tail.read()).lines).toEqual([]);
    expect((await tail.read()).lines).toEqual(['abcdé']);
    expect((await tail.read()).lines).toEqual(['xyz']);
  });

  it('reports a file it cannot read, with why, and goes on with the others', async () => {
    if (process.getuid?.() === 0) {
      // root reads a file whatever its mode: a directory under the name fails the read instead.
      const d = dir();
      const ok = join(d, 'ok.log');
      writeFileSync(ok, '');
      const tail = new LogFileTail([d, ok]);
      await tail.read();
      appendFileSync(ok, 'still read\n');
      const r = await tail.read();
      expect(r.lines).toEqual(['still read']);
      expect(r.failed).toHaveLength(1);
      expect(r.failed[0]?.path).toBe(d);
      return;
    }
    const d = dir();
    const locked = join(d, 'locked.log');
    writeFileSync(locked, '');
    const tail = new LogFileTail([locked]);
    await tail.read();
    appendFileSync(locked, 'x\n');
    chmodSync(locked, 0o000);
    expect((await tail.read()).failed).toHaveLength(1);
  });

  it('a line half written when it starts is skipped whole, not read as a fragment', async () => {
    const path = join(dir(), 'ingest.log');
    writeFileSync(path, 'complete\n{"msg":"batch of 12 rec');
    const tail = new LogFileTail([path]);
    await tail.read();
    appendFileSync(path, 'ords committed"}\nnext\n');
    expect((await tail.read()).lines).toEqual(['next']);
  });

  it(`keeps the first ${MAX_LINE_CHARS} characters of a longer line and drops the rest up to its newline`, async () => {
    const path = join(dir(), 'ingest.log');
    writeFileSync(path, '');
    const tail = new LogFileTail([path]);
    await tail.read();
    appendFileSync(path, 'x'.repeat(MAX_LINE_CHARS + 10));
    expect((await tail.read()).lines).toEqual(['x'.repeat(MAX_LINE_CHARS)]);
    appendFileSync(path, 'yyy\nafter\n');
    expect((await tail.read()).lines).toEqual(['after']);
  });

  it('a file unreadable at the start is read from its end once it can be (its old lines are not this run’s)', async () => {
    const d = dir();
    const path = join(d, 'ingest.log');
    mkdirSync(path); // not a regular file: fails
    const tail = new LogFileTail([path]);
    expect((await tail.read()).failed).toHaveLength(1);
    rmdirSync(path);
    writeFileSync(path, 'old line\n');
    expect(await tail.read()).toEqual({ lines: [], failed: [] });
    appendFileSync(path, 'new line\n');
    expect((await tail.read()).lines).toEqual(['new line']);
  });
});
