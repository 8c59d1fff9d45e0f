// @platformatic/kafka 2.x (the client bench/kafka-clients.ts compares with kafkajs) against the
// real broker: the properties the hot path's Kafka transaction relies on, and the two ways the
// client departs from them with its defaults. It needs Node ≥ 22.22, so on an older Node the file
// is skipped (its describe says so) and .ci/run's Node 22 step runs it.
import { randomBytes } from 'node:crypto';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REQUIRED_NODE, nodeSupportsPlatformatic } from '../../bench/platformatic-node.ts';
import { loadConfig } from '../../config/config.ts';
import { createKafka } from '../../platform/kafka.ts';
import { testLogger } from '../helpers/namespace.ts';

const cfg = loadConfig(process.env);
const ns = `t-pk-${randomBytes(4).toString('hex')}.`;
const topic = (name: string) => `${ns}${name}`;
const TOPICS = ['out', 'in', 'zombie', 'zombie-default', 'in-gen'].map(topic);

describe.skipIf(!nodeSupportsPlatformatic())(
  `@platformatic/kafka transactions (Node ${REQUIRED_NODE}+ only: skipped on an older Node, run by .ci/run's Node 22 and 24 steps)`,
  () => {
    let check: typeof import('../../bench/kafka-clients-check.ts');
    let admin: Admin;
    beforeAll(async () => {
      check = await import('../../bench/kafka-clients-check.ts');
      admin = createKafka(cfg, testLogger, '-platformatic-test').admin();
      await admin.connect();
      await admin.createTopics({ topics: TOPICS.map((t) => ({ topic: t, numPartitions: 1 })), waitForLeaders: true });
    });
    afterAll(async () => {
      await admin.deleteTopics({ topics: TOPICS });
      await admin.disconnect();
    });

    it('commits records and offsets atomically: an aborted transaction leaves neither, a committed one both', async () => {
      const seen = await check.checkAtomicity(cfg, ns, topic('in'), topic('out'));
      expect(seen.afterAbort).toBe(-1n);
      expect(seen.afterCommit).toBe(100n);
      expect(seen.readCommitted).toEqual(['committed-0', 'committed-1']);
      // The aborted records were written (read_uncommitted sees them): read_committed hid them.
      expect(seen.readUncommitted).toEqual(['aborted-0', 'aborted-1', 'aborted-2', 'committed-0', 'committed-1']);
    });

    it('fences a zombie: a second producer with the same transactional id (TAKE_OVER) aborts and fences the first', async () => {
      const seen = await check.checkZombieFencing(cfg, ns, topic('zombie'), true);
      expect(seen.secondInitError).toBeUndefined();
      expect(seen.zombieCommitError).toMatch(/fences the current one/);
      expect(seen.readCommitted).toEqual(['winner']);
    });

    it("with the client's default InitProducerId (producer id 0), the second producer is refused and the first is not fenced", async () => {
      // Why TAKE_OVER exists (bench/kafka-platformatic.ts); if this fails after an upgrade of the
      // client, the default may have been fixed and TAKE_OVER may no longer be needed.
      const seen = await check.checkZombieFencing(cfg, ns, topic('zombie-default'), false);
      expect(seen.secondInitError).toMatch(/InitProducerId[\s\S]*fences the current one/);
      expect(seen.zombieCommitError).toBeUndefined();
      expect(seen.readCommitted).toEqual(['zombie']);
    });

    it("refuses offsets sent with a generation the group is not at (KIP-447's fencing of a member that lost its partitions)", async () => {
      expect(await check.checkGenerationFencing(cfg, ns, topic('in-gen'))).toMatch(/TxnOffsetCommit[\s\S]*generation/i);
    });
  },
);
