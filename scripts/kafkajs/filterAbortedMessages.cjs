'use strict';
/*
 * txmon's replacement of kafkajs 2.2.4's src/consumer/filterAbortedMessages.js, copied over it at
 * install time by scripts/patch-kafkajs.js (docs/operations.md, "kafkajs's read_committed filter").
 *
 * A read_committed fetch answers with the partition's records and the list of aborted transactions
 * that overlap them (producer id and first offset), in the order the broker's transaction index
 * holds them: the order in which they ENDED. kafkajs's filter takes that list as sorted by first
 * offset and moves at most one entry into its set of aborted producers per record, so when
 * transactions of several producers interleave in a partition (txmon's one producer per input
 * partition writing to the same alert and dead-letter partitions) it lets records of an aborted
 * transaction through (a reader sees them as duplicates of the records the batch published again),
 * and can mark a producer aborted after its abort marker has passed, hiding its next committed
 * records. This one does what the Java consumer does: the list sorted by first offset, every entry
 * whose first offset has been reached taken in before the record is judged, and a producer's abort
 * marker ending its aborted transaction.
 */
const ABORT_MARKER_KEY = Buffer.from([0, 0, 0, 0]);

/** A control record whose key is version 0, type 0 (ABORT). */
const isAbortMarker = ({ key }) => key != null && Buffer.from(key).equals(ABORT_MARKER_KEY);

module.exports = ({ messages, abortedTransactions }) => {
  if (!abortedTransactions || abortedTransactions.length === 0) return messages;
  const pending = abortedTransactions
    .map((t) => ({ producerId: String(t.producerId), firstOffset: BigInt(String(t.firstOffset)) }))
    .sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  const aborted = new Set();
  let next = 0;
  return messages.filter((message) => {
    const offset = BigInt(String(message.offset));
    while (next < pending.length && offset >= pending[next].firstOffset) aborted.add(pending[next++].producerId);
    const producerId = String(message.batchContext.producerId);
    if (message.isControlRecord) {
      if (isAbortMarker(message)) aborted.delete(producerId);
      return true;
    }
    return !(message.batchContext.inTransaction && aborted.has(producerId));
  });
};

/** How txmon's start-up check tells this filter from kafkajs's own (platform/kafka.ts). */
module.exports.txmonFixed = true;
