/**
 * API keys: `txk_<key id>_<secret>`. The key id finds the row; only the SHA-256 of the secret is
 * stored, compared in constant time. Secrets are 32 random bytes, so a fast hash is enough (no
 * password stretching needed for keys nobody chose).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RowDataPacket } from 'mysql2/promise';
import { InputError } from '../../platform/errors.ts';
import { inTransaction, type Pool } from '../../platform/mysql.ts';
import { audit } from '../../sinks/audit.ts';

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

/**
 * What a key name (and the name of whoever creates or revokes a key) may be: letters (any script,
 * with their combining marks), digits, single spaces and `. _ @ + ' / : -`, starting with a letter or
 * digit, at most 100 characters. Names are shown in `apikey list` and are the audit log's actors
 * ("name (key id)"): control and format characters (newlines, ANSI escapes, bidi overrides,
 * zero-width joiners) and parentheses would let a name forge a line or another actor.
 */
const NAME = /^[\p{L}\p{N}](?:[\p{L}\p{M}\p{N}._@+'/:-]| (?! ))*$/u;

/** The name in NFC, or an InputError saying what a name may be. */
export function checkName(name: string, what = 'the key name'): string {
  const nfc = name.normalize('NFC');
  if (nfc.length > 100 || !NAME.test(nfc) || nfc.endsWith(' '))
    throw new InputError(
      `${what} must be 1-100 letters, digits, single spaces and . _ @ + ' / : - (starting with a letter or digit; no control, format or bidi characters): ${printable(name.slice(0, 120))}`,
    );
  return nfc;
}

/** A stored name made safe to print on a terminal: anything a name may not hold now is shown as \u{...}. */
export function printable(name: string): string {
  return [...name]
    .map((c) => (/[\p{L}\p{M}\p{N} ._@+'/:-]/u.test(c) ? c : `\\u{${(c.codePointAt(0) as number).toString(16)}}`))
    .join('');
}

/**
 * Creates a key for `name` with `role`, audited (apikey.create) in the same transaction; returns the
 * key, which is never shown again. `clientAddr`: null from the command line.
 */
export async function createApiKey(
  pool: Pool,
  name: string,
  role: Role,
  createdBy: string,
  clientAddr: string | null = null,
): Promise<{ key: string; keyId: string }> {
  // The audit log's actor is the name plus " (key <id>)", within its 128 characters.
  const keyName = checkName(name);
  const by = checkName(createdBy, "the creator's name");
  if (!ROLES.includes(role)) throw new InputError(`role must be one of ${ROLES.join(', ')}`);
  const k = newKey();
  await inTransaction(pool, async (conn) => {
    await conn.query(
      'INSERT INTO api_keys (key_id, name, role, secret_sha256, created_at, created_by) VALUES (?, ?, ?, ?, NOW(3), ?)',
      [k.keyId, keyName, role, k.secretSha256, by],
    );
    await audit(conn, by, 'apikey.create', `apikey:${k.keyId}`, { name: keyName, role }, clientAddr);
  });
  return { key: k.key, keyId: k.keyId };
}

/** Revokes a key by id, audited (apikey.revoke); false when there is no such key or it was revoked already. */
export async function revokeApiKey(
  pool: Pool,
  keyId: string,
  revokedBy: string,
  clientAddr: string | null = null,
): Promise<boolean> {
  const by = checkName(revokedBy, "the revoker's name");
  return inTransaction(pool, async (conn) => {
    const [res] = await conn.query('UPDATE api_keys SET revoked_at = NOW(3) WHERE key_id = ? AND revoked_at IS NULL', [keyId]);
    if ((res as { affectedRows: number }).affectedRows !== 1) return false;
    await audit(conn, by, 'apikey.revoke', `apikey:${keyId}`, {}, clientAddr);
    return true;
  });
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
