/** Schema-registry framing of Avro bodies: magic byte 0, a 4-byte big-endian schema id, then the Avro binary. */
import { avroType } from '../schemas/index.ts';
import type { Transaction, TransactionEncoder } from './types.ts';

/** Length of the registry header: magic byte + schema id. */
export const HEADER_BYTES = 5;

/** A schema id no registry hands out in practice; records framed with it must be dead-lettered as unknown schema. */
export const UNKNOWN_SCHEMA_ID = 2147480000;

/** A 4-byte big-endian signed 32-bit integer. */
export function int32be(n: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeInt32BE(n);
  return buf;
}

/** Registry framing: magic byte 0 + int32be(schemaId) + the Avro body. */
export function frame(schemaId: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0]), int32be(schemaId), body]);
}

/** An encoder that frames `avroType('transaction')` bodies with the given schema id (deterministic bytes). */
export function avroEncoder(schemaId: number): TransactionEncoder {
  const type = avroType('transaction');
  return (tx: Transaction) => frame(schemaId, type.toBuffer(tx));
}
