import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { isKafkajsNegativeTimeout, quietKnownWarnings } from './node-warnings.js';

function warning(name: string, stack: string): Error {
  const w = new Error('-1796521253607 is a negative number.');
  w.name = name;
  w.stack = `${name}: ${w.message}\n${stack}`;
  return w;
}

const KAFKAJS_FRAME =
  '    at RequestQueue.scheduleCheckPendingRequests (/app/node_modules/kafkajs/src/network/requestQueue/index.js:317:37)';

describe('process warnings', () => {
  it('recognises kafkajs’s negative-timeout warning by its name and where it was raised', () => {
    expect(isKafkajsNegativeTimeout(warning('TimeoutNegativeWarning', KAFKAJS_FRAME))).toBe(true);
    expect(isKafkajsNegativeTimeout(warning('TimeoutNegativeWarning', '    at ours (/app/platform/retry.ts:20:3)'))).toBe(false);
    expect(isKafkajsNegativeTimeout(warning('DeprecationWarning', KAFKAJS_FRAME))).toBe(false);
  });

  it('passes every other warning to the handlers that were there before, in order', () => {
    const proc = new EventEmitter();
    const seen: string[] = [];
    proc.on('warning', (w: Error) => seen.push(`first ${w.name}`));
    proc.on('warning', (w: Error) => seen.push(`second ${w.name}`));
    quietKnownWarnings(proc as unknown as NodeJS.Process);
    proc.emit('warning', warning('TimeoutNegativeWarning', KAFKAJS_FRAME));
    proc.emit('warning', warning('TimeoutNegativeWarning', '    at ours (/app/platform/retry.ts:20:3)'));
    proc.emit('warning', warning('DeprecationWarning', KAFKAJS_FRAME));
    expect(seen).toEqual([
      'first TimeoutNegativeWarning',
      'second TimeoutNegativeWarning',
      'first DeprecationWarning',
      'second DeprecationWarning',
    ]);
  });

  it('filters once however often it is called (a test worker runs many files)', () => {
    const proc = new EventEmitter();
    const seen: string[] = [];
    proc.on('warning', (w: Error) => seen.push(w.name));
    quietKnownWarnings(proc as unknown as NodeJS.Process);
    quietKnownWarnings(proc as unknown as NodeJS.Process);
    expect(proc.listenerCount('warning')).toBe(1);
    proc.emit('warning', warning('DeprecationWarning', KAFKAJS_FRAME));
    expect(seen).toEqual(['DeprecationWarning']);
  });
});
