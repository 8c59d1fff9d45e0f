/**
 * The one builder of Redis keys. Every key carries a {hash tag} of the entity it belongs to, so all
 * keys one script touches share a slot and Redis Cluster works.
 */

/** Keys of one account's slot. */
export function accountKeys(prefix: string, accountId: string) {
  const base = `${prefix}:{a:${accountId}}`;
  return {
    dedup: (transactionId: string) => `${base}:dedup:${transactionId}`,
  };
}

/** The Redis Cluster hash slot of a key (CRC16/XMODEM of its {hash tag}, or of the whole key, mod 16384). */
export function hashSlot(key: string): number {
  const buf = Buffer.from(key, 'utf8');
  let start = 0;
  let end = buf.length;
  const open = buf.indexOf(0x7b); // '{'
  if (open !== -1) {
    const close = buf.indexOf(0x7d, open + 1); // '}'
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc ^= (buf[i] as number) << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
