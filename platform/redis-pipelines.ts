/**
 * One batch of keyed commands as pipelines: a single pipeline on one Redis; on a Redis Cluster one
 * pipeline per master node, sent in parallel (an ioredis pipeline cannot span nodes), with replies
 * put back in command order. Every command must touch keys of one slot (txmon's scripts do: their
 * keys share a {hash tag}).
 */
import { Cluster, type Redis } from 'ioredis';
import { DependencyError } from './errors.ts';
import { hashSlot } from './keys.ts';
import { defineScripts, type TxmonPipeline, type TxmonRedis } from './redis.ts';

export type StateRedis = TxmonRedis | Cluster;

export interface KeyedCommand {
  /** A key of the command (its slot decides the node). */
  key: string;
  add(p: TxmonPipeline): void;
}

export type Reply = [Error | null, unknown];

const withScripts = new WeakSet<object>();

/** Sends the commands; replies come back in command order. */
export async function execKeyed(redis: StateRedis, cmds: readonly KeyedCommand[]): Promise<Reply[]> {
  if (!(redis instanceof Cluster)) {
    const p = redis.pipeline() as TxmonPipeline;
    for (const c of cmds) c.add(p);
    const replies = await p.exec();
    if (!replies) throw new DependencyError('redis', 'pipeline aborted');
    return replies;
  }
  const byNode = new Map<string, number[]>();
  cmds.forEach((c, i) => {
    const node = redis.slots[hashSlot(c.key)]?.[0];
    if (node === undefined) throw new DependencyError('redis', `no cluster node serves the slot of ${c.key}`);
    const list = byNode.get(node);
    if (list) list.push(i);
    else byNode.set(node, [i]);
  });
  const masters = new Map(redis.nodes('master').map((n) => [`${n.options.host}:${n.options.port}`, n]));
  const out: Reply[] = new Array<Reply>(cmds.length);
  // A node gone or a slot moved: the slot map is stale; re-read it for the retry.
  const refresh = () => redis.refreshSlotsCache(() => {});
  await Promise.all(
    [...byNode].map(async ([nodeKey, idx]) => {
      const node = masters.get(nodeKey);
      if (!node) {
        refresh();
        throw new DependencyError('redis', `cluster node ${nodeKey} is not connected`);
      }
      if (!withScripts.has(node)) {
        defineScripts(node);
        withScripts.add(node);
      }
      const p = node.pipeline() as TxmonPipeline;
      for (const i of idx) (cmds[i] as KeyedCommand).add(p);
      const replies = await p.exec().catch((err: unknown) => {
        refresh();
        throw err;
      });
      if (!replies) throw new DependencyError('redis', 'pipeline aborted');
      if (replies.some(([err]) => err && /^(MOVED|ASK)\b/.test(err.message))) refresh();
      idx.forEach((i, j) => (out[i] = replies[j] as Reply));
    }),
  );
  return out;
}

/** The nodes that hold data: the masters of a cluster, or the one Redis. */
export function dataNodes(redis: StateRedis): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/** Calls `onKeys` with every key matching `pattern`, node by node (SCAN is per node on a cluster). */
export async function scanAll(redis: StateRedis, pattern: string, onKeys: (keys: string[]) => Promise<void>): Promise<void> {
  for (const node of dataNodes(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 2_000);
      cursor = next;
      if (keys.length > 0) await onKeys(keys);
    } while (cursor !== '0');
  }
}

/** Deletes keys (of any slots) in one round trip per node; returns how many existed. */
export async function unlinkAll(redis: StateRedis, keys: readonly string[]): Promise<number> {
  if (keys.length === 0) return 0;
  if (!(redis instanceof Cluster)) return redis.unlink(...keys);
  const replies = await execKeyed(
    redis,
    keys.map((key) => ({ key, add: (p) => void p.unlink(key) })),
  );
  let n = 0;
  for (const [err, count] of replies) {
    if (err) throw err;
    n += Number(count);
  }
  return n;
}

/**
 * Keys derived from `base` such that every node holding data has one in a slot it serves: where
 * per-node records go (the state marker), so that a node that lost its data is noticed on its own.
 * One Redis: `base` itself. A cluster: `base:{n<i>}` for the smallest i landing on each master (a
 * slot moving to another master changes the set; the missing key then reads as lost state).
 */
export function perNodeKeys(redis: StateRedis, base: string): string[] {
  if (!(redis instanceof Cluster)) return [base];
  const masters = new Set<string>();
  for (const owners of redis.slots) if (owners?.[0]) masters.add(owners[0]);
  if (masters.size === 0) throw new DependencyError('redis', 'cluster slot map not loaded yet');
  const found = new Map<string, string>();
  for (let i = 0; found.size < masters.size && i < 1_000_000; i++) {
    const key = `${base}:{n${i}}`;
    const owner = redis.slots[hashSlot(key)]?.[0];
    if (owner !== undefined && !found.has(owner)) found.set(owner, key);
  }
  if (found.size < masters.size) throw new DependencyError('redis', 'cluster slot map incomplete');
  return [...found.values()].sort();
}
