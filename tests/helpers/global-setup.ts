// Integration tests need the real services; start whatever is not running (idempotent, fast when up).
// A broker started just now is then warmed up before any test uses it: with test files running
// side by side, the first ones otherwise met "The coordinator is loading" (a group's offsets
// partition still loading) and topic metadata not yet propagated after its creation.
import { quietKnownWarnings } from '../../bin/node-warnings.js';
import { loadConfig } from '../../config/config.ts';
import { createKafka } from '../../platform/kafka.ts';
import { errorMessage } from '../../platform/errors.ts';
import { servicesUp } from '../../services/manager.ts';
import { waitUntil } from '../../services/process.ts';
import { testLogger } from './namespace.ts';

/** Java's String.hashCode, which the broker uses to place a group on a partition of __consumer_offsets. */
function javaHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** One group name per partition of __consumer_offsets, so each partition's coordinator is asked. */
export function groupPerOffsetsPartition(partitions: number, prefix = 'txmon-warmup-'): string[] {
  const found = new Map<number, string>();
  for (let i = 0; found.size < partitions; i++) {
    const name = `${prefix}${i}`;
    const p = (javaHash(name) & 0x7fffffff) % partitions;
    if (!found.has(p)) found.set(p, name);
  }
  return [...found.values()];
}

export default async function setup(): Promise<void> {
  // This runs in vitest's own process, whose kafkajs admin would print the warning the workers filter.
  quietKnownWarnings();
  const cfg = loadConfig(process.env);
  const lines: string[] = [];
  await servicesUp(cfg, (l) => lines.push(l));
  const admin = createKafka(cfg, testLogger, '-warmup').admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicMetadata({ topics: ['__consumer_offsets'] }).catch(() => null);
    const partitions = offsets?.topics[0]?.partitions.length || 10;
    for (const groupId of groupPerOffsetsPartition(partitions)) {
      let last = '';
      const answered = () =>
        admin.fetchOffsets({ groupId, topics: [] }).then(
          () => true,
          (err: unknown) => ((last = errorMessage(err)), false),
        );
      const r = await waitUntil(answered, { timeoutMs: 60_000, intervalMs: 250 });
      if (!r.ok) throw new Error(`broker warm-up: the offsets of ${groupId}: ${r.reason} (${last})`);
    }
  } finally {
    await admin.disconnect();
  }
}
