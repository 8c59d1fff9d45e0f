// Integration tests need the real services; start whatever is not running (idempotent, fast when up).
// A broker started just now is then warmed up before any test uses it: with test files running
// side by side, the first ones otherwise met "The coordinator is loading" (a group's offsets
// partition still loading) and topic metadata not yet propagated after its creation.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { quietKnownWarnings } from '../../bin/node-warnings.js';
import { sourceFingerprint } from '../../scripts/build-inputs.js';
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

/**
 * Builds dist/ when it is not built from the sources beside it. The tests spawn the CLI
 * (`node bin/txmon.js`: processors killed and restarted, CLI commands), which runs dist/ when it
 * is fresh and otherwise the sources through tsx, ~0.5 s more CPU per process: measured on the
 * whole suite, 589 s with dist/ fresh against 661 s without (2026-12-06). A source edited while
 * the tests run makes dist/ stale again, and the CLI falls back to the sources: never a stale build.
 */
function buildIfStale(): void {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const info = `${root}dist/build-info.json`;
  const built = existsSync(info) ? (JSON.parse(readFileSync(info, 'utf8')) as { fingerprint?: string }).fingerprint : null;
  if (built === sourceFingerprint(root)) return;
  execFileSync(process.execPath, ['scripts/build.js'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}

export default async function setup(): Promise<void> {
  // This runs in vitest's own process, whose kafkajs admin would print the warning the workers filter.
  quietKnownWarnings();
  buildIfStale();
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
