/**
 * API keys: `txk_<key id>_<secret>`. The key id finds the row; only the SHA-256 of the secret is
 * stored, compared in constant time. Secrets are 32 random bytes, so a fast hash is enough (no
 * password stretching needed for keys nobody chose).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RowDataPacket } from 'mysql2/promise';
import { InputError } from '../../platform/errors.ts';
import type { Pool } from '../../platform/mysql.ts';

export const ROLES = ['analyst', 'sre', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  keyId: string;
  name: string;
  role: Role;
}

const KEY = /^txk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Splits a presented key into id and secret, or null when it is not one of ours. */
export function parseKey(key: string): { keyId: string; secret: string } | null {
  const m = KEY.exec(key);
  return m ? { keyId: m[1] as string, secret: m[2] as string } : null;
}

/** A new key (shown once) and what is stored of it. */
export function newKey(): { key: string; keyId: string; secretSha256: string } {
  const keyId = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { key: `txk_${keyId}_${secret}`, keyId, secretSha256: sha256(secret) };
}

/** Creates a key for `name` with `role`; returns the key, which is never shown again. */
export async function createApiKey(
  pool: Pool,
  name: string,
  role: Role,
  createdBy: string,
): Promise<{ key: string; keyId: string }> {
  // The audit log's actor is the name plus " (key <id>)", within its 128 characters.
  if (!/^\S.{0,99}$/.test(name)) throw new InputError('the key name must be 1-100 characters, not starting with a space');
  if (!ROLES.includes(role)) throw new InputError(`role must be one of ${ROLES.join(', ')}`);
  const k = newKey();
  await pool.query(
    'INSERT INTO api_keys (key_id, name, role, secret_sha256, created_at, created_by) VALUES (?, ?, ?, ?, NOW(3), ?)',
    [k.keyId, name, role, k.secretSha256, createdBy],
  );
  return { key: k.key, keyId: k.keyId };
}

/** Revokes a key by id; false when there is no such key or it was revoked already. */
export async function revokeApiKey(pool: Pool, keyId: string): Promise<boolean> {
  const [res] = await pool.query('UPDATE api_keys SET revoked_at = NOW(3) WHERE key_id = ? AND revoked_at IS NULL', [keyId]);
  return (res as { affectedRows: number }).affectedRows === 1;
}

/** Every key's metadata (never a secret). */
export async function listApiKeys(
  pool: Pool,
): Promise<Array<{ keyId: string; name: string; role: Role; createdAt: Date; revokedAt: Date | null; lastUsedAt: Date | null }>> {
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT key_id, name, role, created_at, revoked_at, last_used_at FROM api_keys ORDER BY created_at, key_id',
  );
  return rows.map((r) => ({
    keyId: String(r.key_id),
    name: String(r.name),
    role: r.role as Role,
    createdAt: r.created_at as Date,
    revokedAt: (r.revoked_at as Date | null) ?? null,
    lastUsedAt: (r.last_used_at as Date | null) ?? null,
  }));
}

/** The principal of a presented key, or null when it is unknown, revoked or wrong. */
export async function verifyApiKey(pool: Pool, presented: string): Promise<Principal | null> {
  const parsed = parseKey(presented);
  if (!parsed) return null;
  const [[row]] = await pool.query<RowDataPacket[]>(
    'SELECT name, role, secret_sha256 FROM api_keys WHERE key_id = ? AND revoked_at IS NULL',
    [parsed.keyId],
  );
  if (!row) return null;
  const want = Buffer.from(String(row.secret_sha256), 'hex');
  const got = Buffer.from(sha256(parsed.secret), 'hex');
  if (want.length !== got.length || !timingSafeEqual(want, got)) return null;
  // At most once per cache period per key (verification is cached): cheap enough to keep.
  await pool.query('UPDATE api_keys SET last_used_at = NOW(3) WHERE key_id = ?', [parsed.keyId]);
  return { keyId: parsed.keyId, name: String(row.name), role: row.role as Role };
}
