/** Files that may be gzip-compressed whatever their name: recognised by their first two bytes. */
import { gunzipSync } from 'node:zlib';

/** Whether `bytes` start with gzip's magic bytes (1f 8b). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** A file's bytes as UTF-8 text, gunzipped first when they are gzip (zlib's error when they are not a whole gzip stream). */
export function gzipOrPlainText(bytes: Uint8Array): string {
  const b = isGzip(bytes) ? gunzipSync(bytes) : bytes;
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
}
