import { describe, expect, it } from 'vitest';
import { hashSlot } from '../platform/keys.ts';
import { blobField, entityStateKey, fenceField, sourceName } from './keys.ts';

describe('the entity state layout', () => {
  it("puts an entity's hash under the generation's root, in the entity's slot", () => {
    const key = entityStateKey('txmon', 3, { kind: 'card', id: 'tok-9' });
    expect(key).toBe('txmon:g3:{c:tok-9}:w');
    expect(hashSlot(key)).toBe(hashSlot('c:tok-9'));
    expect(entityStateKey('txmon', 4, { kind: 'card', id: 'tok-9' })).not.toBe(key);
    expect(entityStateKey('txmon', 3, { kind: 'account', id: 'tok-9' })).not.toBe(key);
  });

  it('names a source partition and its two fields', () => {
    const s = sourceName({ topic: 'txmon.transactions.v1', partition: 11 });
    expect(s).toBe('txmon.transactions.v1/11');
    expect(blobField(s)).toBe('s:txmon.transactions.v1/11');
    expect(fenceField(s)).toBe('f:txmon.transactions.v1/11');
  });
});
