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
