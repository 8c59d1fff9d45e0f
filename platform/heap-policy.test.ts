import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** Peak heap of a child process that churns batches while keeping ~4 of them alive. */
function peakHeapMb(percent: number): number {
  const code = `
    import { applyHeapGrowingPercent } from ${JSON.stringify(new URL('./heap-policy.ts', import.meta.url).pathname)};
    applyHeapGrowingPercent(${percent});
    const live = [];
    let peak = 0;
    for (let round = 0; round < 150; round++) {
      const batch = [];
      for (let i = 0; i < 20000; i++) batch.push({ a: i, s: 'x' + i, arr: [i, i + 1] });
      live.push(batch);
      if (live.length > 4) live.shift();
      await new Promise((r) => setImmediate(r));
      peak = Math.max(peak, process.memoryUsage().heapTotal);
    }
    process.stdout.write(String(peak / 1048576));
  `;
  return Number(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8' }));
}

describe('applyHeapGrowingPercent', () => {
  it('keeps the heap of a churning process closer to its live data than V8 does by itself', () => {
    const own = peakHeapMb(0);
    const tight = peakHeapMb(15);
    expect(tight).toBeLessThan(own * 0.8);
  }, 60_000);

  it('rejects a negative or fractional percent', async () => {
    const { applyHeapGrowingPercent } = await import('./heap-policy.ts');
    expect(() => applyHeapGrowingPercent(-1)).toThrow(RangeError);
    expect(() => applyHeapGrowingPercent(1.5)).toThrow(RangeError);
  });
});
