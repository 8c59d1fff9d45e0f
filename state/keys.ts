/**
 * Key layout of the partition-owned window state (issue 17): one Redis hash per entity per state
 * generation, holding one contribution per source partition that touched the entity.
 *
 *   <prefix>:g<generation>:{<a|c|m|d>:<id>}:w       the entity's hash (stateRoot + entity hash tag)
 *     s:<topic>/<partition>                          that partition's contribution (an opaque blob)
 *     f:<topic>/<partition>                          its fence: the highest source offset applied
 *                                                    into the blob (decimal, no leading zeros)
 *
 * The {hash tag} is the entity's, so the hash is one slot on a Redis Cluster, as every other
 * entity key (platform/keys.ts); the generation root lets a rebuild fill the next generation beside
 * the old one.
 */
import { ENTITY_KINDS, stateRoot, type EntityKind } from '../platform/keys.ts';

/** A Kafka partition whose records are applied into the state. */
export interface SourcePartition {
  topic: string;
  partition: number;
}

/** An entity with windowed state. */
export interface EntityRef {
  kind: EntityKind;
  id: string;
}

/** The hash of one entity in one state generation. */
export function entityStateKey(prefix: string, generation: number, entity: EntityRef): string {
  return `${stateRoot(prefix, generation)}:{${ENTITY_KINDS[entity.kind]}:${entity.id}}:w`;
}

/** "<topic>/<partition>": how a source partition is named in field names and in read results. */
export function sourceName(source: SourcePartition): string {
  return `${source.topic}/${source.partition}`;
}

/** The field of a source's contribution blob. */
export function blobField(sourceName: string): string {
  return `s:${sourceName}`;
}

/** The field of a source's fence. */
export function fenceField(sourceName: string): string {
  return `f:${sourceName}`;
}
