/** Opaque keyset cursors: the sort key of a page's last item, base64url-encoded JSON. */
import { HttpProblem } from './plugins/errors.ts';

export function encodeCursor(key: ReadonlyArray<string | number>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** The key of a cursor, checked against the expected shape; a 400 when it is not one of ours. */
export function decodeCursor(cursor: string, shape: ReadonlyArray<'string' | 'number'>): Array<string | number> {
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(key) &&
      key.length === shape.length &&
      key.every((v, i) => typeof v === shape[i] && (typeof v !== 'number' || Number.isFinite(v)))
    )
      return key as Array<string | number>;
  } catch {
    // fall through: not a cursor of ours
  }
  throw new HttpProblem(400, 'querystring.cursor is not a cursor this API returned');
}
