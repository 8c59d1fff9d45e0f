import { describe, expect, it } from 'vitest';
import { laterCommit } from './reconcile.processor.ts';

describe('laterCommit (the outbox boundary of a reconcile batch)', () => {
  it("takes this instance's own commit while Kafka still shows the offset before it (markers not yet written)", () => {
    expect(laterCommit('120', 180n)).toBe('180');
    expect(laterCommit(null, 7n)).toBe('7');
  });

  it("takes Kafka's answer when another owner committed further, or this instance committed nothing", () => {
    expect(laterCommit('300', 180n)).toBe('300');
    expect(laterCommit('300', undefined)).toBe('300');
    expect(laterCommit(null, undefined)).toBeNull();
    expect(laterCommit('180', 180n)).toBe('180');
  });
});
