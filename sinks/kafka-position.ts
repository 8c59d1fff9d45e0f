/** Where a record was read: the position every stored row, duplicate and dead letter keeps. */
export interface KafkaPosition {
  topic: string;
  partition: number;
  offset: string;
}

/** "<topic>/<partition>/<offset>": a Kafka position as one string (first-seen positions of duplicates). */
export function positionKey(p: KafkaPosition): string {
  return `${p.topic}/${p.partition}/${p.offset}`;
}
