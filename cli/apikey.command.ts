/** `txmon apikey create | revoke | list`: the dashboard API's keys. */
import type { TxmonConfig } from '../config/config.ts';
import { createApiKey, listApiKeys, revokeApiKey, type Role } from '../dashboard-api/auth/api-keys.ts';
import { InputError } from '../platform/errors.ts';
import { createPool } from '../platform/mysql.ts';

async function withPool<T>(cfg: TxmonConfig, fn: (pool: ReturnType<typeof createPool>) => Promise<T>): Promise<T> {
  const pool = createPool(cfg, { connectionLimit: 1 });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

export async function runApikeyCreate(
  cfg: TxmonConfig,
  o: { name: string; role: Role; createdBy: string },
  say: (line: string) => void,
): Promise<void> {
  const k = await withPool(cfg, (pool) => createApiKey(pool, o.name, o.role, o.createdBy));
  // The key on stdout (for scripts), the explanation on stderr.
  process.stdout.write(`${k.key}\n`);
  say(`apikey: created ${k.keyId} for ${o.name} (${o.role}); the key above is shown once and stored only as a hash`);
}

export async function runApikeyRevoke(cfg: TxmonConfig, keyId: string, say: (line: string) => void): Promise<void> {
  if (!/^[0-9a-f]{12}$/.test(keyId)) throw new InputError('the key id is the 12 hex digits after txk_ (see txmon apikey list)');
  const revoked = await withPool(cfg, (pool) => revokeApiKey(pool, keyId));
  if (!revoked) throw new InputError(`no active key ${keyId} (see txmon apikey list)`);
  say(`apikey: ${keyId} revoked (effective within ${cfg.api.keyCacheMs} ms in running APIs)`);
}

export async function runApikeyList(cfg: TxmonConfig, say: (line: string) => void): Promise<void> {
  const keys = await withPool(cfg, (pool) => listApiKeys(pool));
  if (keys.length === 0) say('apikey: no keys (txmon apikey create --name ... --role ...)');
  for (const k of keys)
    say(
      `${k.keyId}  ${k.role.padEnd(7)} ${k.name}  created ${k.createdAt.toISOString()}${k.revokedAt ? `  REVOKED ${k.revokedAt.toISOString()}` : ''}`,
    );
}
