// npm's postinstall (package.json): fixes two files of kafkajs 2.2.4 (its last release) that break
// exactly-once output and read_committed input on a cluster whose brokers fail over
// (docs/operations.md, "Supply chain"). Idempotent. A file that is neither 2.2.4's original (by
// sha256) nor already fixed is refused: a kafkajs upgrade must be checked against the fixes.
//
// 1. src/consumer/filterAbortedMessages.js, the read_committed filter of aborted transactions, is
//    replaced by scripts/kafkajs/filterAbortedMessages.cjs (which says what is wrong with it).
// 2. src/producer/sendMessages.js keeps the brokers that answered a produce request and, when it
//    retries, sends again only to brokers without an answer, regrouping every message by the
//    partitions' leaders of that moment. A partition whose leader moved to a broker that had
//    answered for others is never sent (its messages are lost, and the send resolves); one that had
//    been acknowledged and moved to a broker without an answer is sent again with the next sequence
//    numbers (its messages are written twice, in the same transaction). Edited here to remember the
//    acknowledged partitions instead, to send every other one to its leader of the moment, to choose
//    each message's partition once per send (keyless messages go round-robin, and choosing again on
//    a retry moved them between partitions), and to let every request of an attempt settle before
//    the next (one still in flight was sent again).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kafkajs = join(root, 'node_modules', 'kafkajs', 'src');
const MARKER = 'txmonFixed';
/** The fixes' version, in the mark: an install fixed by an older script is fixed again from the original. */
const VERSION = 2;

/** One edit of the original text: `find` must occur exactly once. */
function edit(text, find, replace, file) {
  const at = text.indexOf(find);
  if (at < 0 || text.indexOf(find, at + 1) >= 0)
    throw new Error(`[txmon] ${file}: the text to patch was not found once: ${find}`);
  return text.slice(0, at) + replace + text.slice(at + find.length);
}

const PATCHES = [
  {
    file: join(kafkajs, 'consumer', 'filterAbortedMessages.js'),
    original: '54ce50f2a41ee1686da8b73bf8b502c7dd07c9d7cb0a494cdb36a7fc536ced8e',
    fixed: () => readFileSync(join(root, 'scripts', 'kafkajs', 'filterAbortedMessages.cjs'), 'utf8'),
  },
  {
    file: join(kafkajs, 'producer', 'sendMessages.js'),
    original: '8a120e6993955e040a13014cccebd79b8d41e7355d6eda1065fa83fea2fbbcdb',
    fixed: (text, file) => {
      let t = edit(
        text,
        '    const responsePerBroker = new Map()\n',
        '    const responsePerBroker = new Map()\n' +
          `    // ${MARKER} v${VERSION} (scripts/patch-kafkajs.js): the partitions a broker acknowledged, and the answers.\n` +
          '    const ackedPartitions = new Set()\n' +
          '    const responses = []\n' +
          '    const groupedPerTopic = new Map()\n',
        file,
      );
      t = edit(
        t,
        '      const topicMetadata = new Map()\n',
        '      const topicMetadata = new Map()\n      // Every partition not yet acknowledged goes to its leader of this moment.\n      responsePerBroker.clear()\n',
        file,
      );
      // Each message's partition is chosen once per send, as the Java producer does: the default
      // partitioner spreads keyless messages round-robin, so choosing again on a retry could move one
      // onto an acknowledged partition (dropped) or off one (written twice).
      t = edit(
        t,
        '        const messagesPerPartition = groupMessagesPerPartition({\n          topic,\n          partitionMetadata,\n          messages,\n          partitioner,\n        })\n',
        '        if (!groupedPerTopic.has(topic)) {\n' +
          '          groupedPerTopic.set(topic, groupMessagesPerPartition({ topic, partitionMetadata, messages, partitioner }))\n' +
          '        }\n' +
          '        const messagesPerPartition = groupedPerTopic.get(topic)\n' +
          '        for (const partition of keys(messagesPerPartition)) {\n' +
          '          if (ackedPartitions.has(`${topic}|${partition}`)) delete messagesPerPartition[partition]\n' +
          '        }\n',
        file,
      );
      t = edit(
        t,
        '          responsePerBroker.set(broker, formattedResponse)\n',
        '          responsePerBroker.set(broker, formattedResponse)\n' +
          '          topicData.forEach(({ topic, partitions }) =>\n' +
          '            partitions.forEach(entry => ackedPartitions.add(`${topic}|${entry.partition}`))\n' +
          '          )\n' +
          '          responses.push(formattedResponse)\n',
        file,
      );
      // Every request settled before a retry: one still in flight would otherwise be sent again.
      t = edit(
        t,
        '        await Promise.all(requests)\n',
        '        const settled = await Promise.allSettled(requests)\n' +
          "        const failed = settled.find(s => s.status === 'rejected')\n" +
          '        if (failed) throw failed.reason\n',
        file,
      );
      return edit(t, '        return Array.from(responsePerBroker.values()).flat()\n', '        return responses.flat()\n', file);
    },
  },
];

for (const p of PATCHES) {
  if (!existsSync(p.file)) {
    console.error(`[txmon] ${p.file} is not installed; nothing to patch`);
    continue;
  }
  const current = readFileSync(p.file, 'utf8');
  if (current.includes(MARKER)) {
    // Already fixed. The filter is a file of ours: refreshed if it changed since. The send is edited
    // from kafkajs's original, which an older edit no longer holds: `npm ci` installs it afresh.
    if (p.file.endsWith('filterAbortedMessages.js')) {
      if (current !== p.fixed()) writeFileSync(p.file, p.fixed());
    } else if (!current.includes(`${MARKER} v${VERSION} `)) {
      console.error(`[txmon] ${p.file} carries an older txmon fix: run \`npm ci\` to install kafkajs afresh and fix it again`);
      process.exit(1);
    }
    continue;
  }
  const sha = createHash('sha256').update(current).digest('hex');
  if (sha !== p.original) {
    console.error(
      `[txmon] ${p.file} is not kafkajs 2.2.4's (sha256 ${sha}): check scripts/patch-kafkajs.js against it before installing this kafkajs`,
    );
    process.exit(1);
  }
  writeFileSync(p.file, p.fixed(current, p.file));
  console.error(`[txmon] patched ${p.file.slice(root.length + 1)} (scripts/patch-kafkajs.js)`);
}
