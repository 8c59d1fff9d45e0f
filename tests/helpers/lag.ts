/**
 * The group's lag as the tests poll it: platform's groupLag, asked again while Kafka answers with a
 * retriable error. After a broker is killed or restarted the group's coordinator moves, and for a few
 * seconds OffsetFetch answers NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS; kafkajs's admin passes
 * those on. A test waiting for the lag must wait through them, not fail on them.
 */
import type { Admin } from 'kafkajs';
import { groupLag as groupLagOnce } from '../../platform/batch-consumer.ts';
import { retry } from '../../platform/retry.ts';

/** Asks up to `withinMs` (60 s) while the answer is a retriable error; the last error past that. */
export async function groupLag(admin: Admin, groupId: string, topic: string, withinMs = 60_000): Promise<number> {
  const until = Date.now() + withinMs;
  return retry(() => groupLagOnce(admin, groupId, topic), {
    initialMs: 200,
    maxMs: 200,
    shouldContinue: () => Date.now() <= until,
  });
}
