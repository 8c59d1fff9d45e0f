/**
 * One batch of keyed commands as pipelines: a single pipeline on one Redis; on a Redis Cluster one
 * pipeline per master node, sent in parallel (an ioredis pipeline cannot span nodes), with replies
 * put back in command order. Every command must touch keys of one slot (txmon's scripts do: their
 * keys share a {hash tag}).
 */
import { Cluster } from 'ioredis';
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
  await Promise.all(
    [...byNode].map(async ([nodeKey, idx]) => {
      const node = masters.get(nodeKey);
      if (!node) throw new DependencyError('redis', `cluster node ${nodeKey} is not connected`);
      if (!withScripts.has(node)) {
        defineScripts(node);
        withScripts.add(node);
      }
      const p = node.pipeline() as TxmonPipeline;
      for (const i of idx) (cmds[i] as KeyedCommand).add(p);
      const replies = await p.exec();
      if (!replies) throw new DependencyError('redis', 'pipeline aborted');
      idx.forEach((i, j) => (out[i] = replies[j] as Reply));
    }),
  );
  return out;
}
