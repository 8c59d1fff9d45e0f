/** `txmon apikey create | revoke | list`: the dashboard API's keys. */
import type { TxmonConfig } from '../config/config.ts';
import { createApiKey, listApiKeys, printable, revokeApiKey, type Role } from '../dashboard-api/auth/api-keys.ts';
import { InputError } from '../platform/errors.ts';
import { withPool } from '../platform/mysql.ts';

export async function runApikeyCreate(
  cfg: TxmonConfig,
  o: { name: string; role: Role; createdBy: string },
  say: (line: string) => void,
): Promise<void> {
  const k = await withPool(cfg, (pool) => createApiKey(pool, o.name, o.role, o.createdBy), { connectionLimit: 1 });
  // The key on stdout (for scripts), the explanation on stderr.
  process.stdout.write(`${k.key}\n`);
  say(
    `apikey: created ${k.keyId} for ${printable(o.name.normalize('NFC'))} (${o.role}); the key above is shown once and stored only as a hash`,
  );
}

export async function runApikeyRevoke(
  cfg: TxmonConfig,
  keyId: string,
  o: { by: string },
  say: (line: string) => void,
): Promise<void> {
  if (!/^[0-9a-f]{12}$/.test(keyId)) throw new InputError('the key id is the 12 hex digits after txk_ (see txmon apikey list)');
  const revoked = await withPool(cfg, (pool) => revokeApiKey(pool, keyId, o.by), { connectionLimit: 1 });
  if (!revoked) throw new InputError(`no active key ${keyId} (see txmon apikey list)`);
  say(`apikey: ${keyId} revoked by ${printable(o.by)} (effective within ${cfg.api.keyCacheMs} ms in running APIs)`);
}

export async function runApikeyList(cfg: TxmonConfig, say: (line: string) => void): Promise<void> {
  const keys = await withPool(cfg, (pool) => listApiKeys(pool), { connectionLimit: 1 });
  if (keys.length === 0) say('apikey: no keys (txmon apikey create --name ... --role ...)');
  // Names made before names were checked (issue 16) may hold control or bidi characters: escaped, so a
  // name cannot rewrite the terminal or forge a line.
  for (const k of keys)
    say(
      `${k.keyId}  ${k.role.padEnd(7)} ${printable(k.name)}  created ${k.createdAt.toISOString()}${k.revokedAt ? `  REVOKED ${k.revokedAt.toISOString()}` : ''}`,
    );
}
