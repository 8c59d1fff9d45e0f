import { describe, expect, it } from 'vitest';
import { rollbackOrDestroy } from './mysql.ts';

/** A connection whose rollback answers as told, recording what was called. */
function connection(rollback: () => Promise<void>) {
  const calls: string[] = [];
  return {
    calls,
    conn: {
      rollback: async () => {
        calls.push('rollback');
        await rollback();
      },
      destroy: () => {
        calls.push('destroy');
      },
    },
  };
}

describe('rollbackOrDestroy', () => {
  it('rolls back, and the connection goes back to the pool whole', async () => {
    const { conn, calls } = connection(async () => {});
    await rollbackOrDestroy(conn);
    expect(calls).toEqual(['rollback']);
  });

  it('destroys a connection whose rollback failed (a transaction may be open on it), and does not throw', async () => {
    const { conn, calls } = connection(async () => {
      throw new Error('Connection lost: The server closed the connection.');
    });
    await expect(rollbackOrDestroy(conn)).resolves.toBeUndefined();
    expect(calls).toEqual(['rollback', 'destroy']);
  });
});
