// Integration tests need the real services; start whatever is not running (idempotent, fast when up).
// A broker started just now is then warmed up before any test uses it: with test files running
// side by side, the first ones otherwise met "The coordinator is loading" (a group's offsets
// partition still loading) and topic metadata not yet propagated after its creation.
import { loadConfig } from '../../config/config.ts';
import { createKafka } from '../../platform/kafka.ts';
import { sleep } from '../../platform/retry.ts';
import { servicesUp } from '../../services/manager.ts';
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

async function untilAnswers(what: string, fn: () => Promise<unknown>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fn();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`broker warm-up: ${what}: ${(err as Error).message}`);
      await sleep(250);
    }
  }
}

export default async function setup(): Promise<void> {
  const cfg = loadConfig(process.env);
  const lines: string[] = [];
  await servicesUp(cfg, (l) => lines.push(l));
  const admin = createKafka(cfg, testLogger, '-warmup').admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicMetadata({ topics: ['__consumer_offsets'] }).catch(() => null);
    const partitions = offsets?.topics[0]?.partitions.length || 10;
    for (const groupId of groupPerOffsetsPartition(partitions))
      await untilAnswers(`offsets of ${groupId}`, () => admin.fetchOffsets({ groupId, topics: [] }));
  } finally {
    await admin.disconnect();
  }
}
