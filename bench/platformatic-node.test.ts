import { describe, expect, it } from 'vitest';
import { nodeSupportsPlatformatic } from './platformatic-node.ts';

describe('nodeSupportsPlatformatic', () => {
  it('is true from Node 22.22 on and false before', () => {
    expect(nodeSupportsPlatformatic('20.20.2')).toBe(false);
    expect(nodeSupportsPlatformatic('22.21.9')).toBe(false);
    expect(nodeSupportsPlatformatic('22.22.0')).toBe(true);
    expect(nodeSupportsPlatformatic('22.23.5')).toBe(true);
    expect(nodeSupportsPlatformatic('24.6.0')).toBe(true);
  });
});
