/**
 * Redis keys of the state marker and generations, and the cluster hash slot; an entity's state key
 * is built in state/keys.ts. Every entity key carries a {hash tag} of the entity, so Redis Cluster
 * works.
 */

/** Entities with windowed state; the letter is the hash tag's kind. */
export const ENTITY_KINDS = { account: 'a', card: 'c', merchant: 'm', device: 'd' } as const;
export type EntityKind = keyof typeof ENTITY_KINDS;

/**
 * Marker of intact state (a hash: meta, gen, per-partition progress): written once state exists,
 * missing after Redis lost its data.
 */
export function stateMarkerKey(prefix: string): string {
  return `${prefix}:state:marker`;
}

/**
 * Where one generation of the windowed state lives: every entity key is under it. A rebuild builds
 * the next generation beside the old one, so a processor still writing to the old one (its batch
 * began before the rebuild) cannot touch the new; the old one is deleted afterwards.
 */
export function stateRoot(prefix: string, generation: number): string {
  return `${prefix}:g${generation}`;
}

/** Every key of every generation of a prefix (for SCAN MATCH); the marker and its lock are not among them. */
export function stateKeyPattern(prefix: string): string {
  return `${prefix}:g*`;
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
