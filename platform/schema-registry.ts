/**
 * Schema registry access (Confluent-compatible API, e.g. Apicurio's /apis/ccompat/v7).
 *
 * Wraps @kafkajs/confluent-schema-registry: its decode() re-parses the reader schema and builds a new
 * resolver for every message when a reader schema is given, so the hot path here resolves each writer
 * schema id once, caches the resolver, and decodes synchronously after one async warm-up per batch.
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import type { TxmonConfig } from '../config/config.ts';
import { DependencyError, PoisonRecordError, isRetriable } from './errors.ts';
import { sleep } from './retry.ts';

export type Registry = SchemaRegistry;

type Middlewares = NonNullable<ConstructorParameters<typeof SchemaRegistry>[0]['middlewares']>;

/** The Authorization header of the configured registry credentials; empty without any. */
export function registryAuthHeaders(cfg: Pick<TxmonConfig, 'registryAuth'>): Record<string, string> {
  const auth = cfg.registryAuth;
  if (auth === null) return {};
  if (auth.kind === 'bearer') return { authorization: `Bearer ${auth.token.reveal()}` };
  return { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password.reveal()}`).toString('base64')}` };
}

/**
 * The registry client, carrying the headers its credentials need so that txmon's own calls beside
 * the library's (compatibility config, the health check of AvroDecoder) send them too.
 */
class AuthorizedRegistry extends SchemaRegistry {
  constructor(
    args: ConstructorParameters<typeof SchemaRegistry>[0],
    readonly authHeaders: Readonly<Record<string, string>>,
    readonly requestTimeoutMs: number,
  ) {
    super(args);
  }
}

/** Headers for a direct HTTP call to the registry this client talks to. */
function headersOf(registry: SchemaRegistry): Readonly<Record<string, string>> {
  return registry instanceof AuthorizedRegistry ? registry.authHeaders : {};
}

/** The request deadline of this client (REGISTRY_REQUEST_TIMEOUT_MS for one not made by createRegistry). */
function timeoutOf(registry: SchemaRegistry): number {
  return registry instanceof AuthorizedRegistry ? registry.requestTimeoutMs : REGISTRY_REQUEST_TIMEOUT_MS;
}

/**
 * How long one registry request may take. Neither the library's HTTP client nor fetch gives up by
 * itself: a request the registry never answers (seen once right after the services started, on
 * the compatibility PUT of a freshly registered subject) hung its caller for good, a test's whole
 * namespace set-up with it. With a deadline it fails as an outage, and the caller retries it.
 */
export const REGISTRY_REQUEST_TIMEOUT_MS = 10_000;

/** A client for the configured registry, with its basic or bearer credentials on every request. */
export function createRegistry(cfg: TxmonConfig, opts: { requestTimeoutMs?: number } = {}): SchemaRegistry {
  const headers = registryAuthHeaders(cfg);
  const timeout = opts.requestTimeoutMs ?? REGISTRY_REQUEST_TIMEOUT_MS;
  // One middleware for both kinds of credentials (the library's `auth` option knows basic auth
  // only), and a deadline on every request the library sends, so that a request left unanswered
  // frees its socket. It is a second later than the deadline registerSchema puts on the library's
  // promise: the library reports its own timeout as an HTTP 400, which says nothing of an outage.
  const middlewares: Middlewares = [
    () => ({ prepareRequest: async (next) => (await next()).enhance({ headers, timeout: timeout + 1_000 }) }),
  ];
  return new AuthorizedRegistry(
    { host: cfg.registryUrl, clientId: cfg.kafka.clientId, retry: { retries: 2 }, middlewares },
    headers,
    timeout,
  );
}

/** Confluent wire format: magic byte 0, big-endian int32 schema id, Avro body. */
export function frame(schemaId: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = 0;
  out.writeInt32BE(schemaId, 1);
  body.copy(out, 5);
  return out;
}

/** Reads the schema id of a framed value, or throws a poison error when the framing is wrong. */
export function schemaIdOf(value: Buffer | null): number {
  if (!value || value.length < 5)
    throw new PoisonRecordError('DECODE_FAILED', `value of ${value?.length ?? 0} bytes is too short for registry framing`);
  if (value[0] !== 0)
    throw new PoisonRecordError('DECODE_FAILED', `magic byte is ${value[0]}, expected 0 (schema-registry framing)`);
  return value.readInt32BE(1);
}

type Resolved = { ok: true; resolver: avro.Resolver | null } | { ok: false; error: PoisonRecordError };

/** How long an id the registry did not know is taken as unknown before it is asked about again, by default (ms). */
export const UNKNOWN_ID_RETRY_MS = 10_000;
/** Unknown ids remembered at most (past it, the oldest is forgotten and asked about again when it comes). */
const MAX_UNKNOWN_IDS = 10_000;

/** Decodes framed Avro values into one reader schema, resolving each writer schema once. */
export class AvroDecoder<T> {
  private readonly resolved = new Map<number, Resolved>();
  /**
   * Ids the registry answered 404 for (while it knew the sanity id) -> when they may be asked about
   * again (performance.now(): a monotonic clock, so a step of the wall clock does not stretch it). Until then a record with one goes to the dead letters without a
   * request: every batch asking again put one or two registry round trips (and any stall of the
   * registry) in front of each batch that held a malformed record.
   */
  private readonly unknown = new Map<number, number>();

  constructor(
    private readonly registry: SchemaRegistry,
    private readonly readerType: avro.Type,
    /**
     * A schema id that must exist (our own reader schema) and the registry's URL: a 404 counts as
     * "unknown schema id" only while the registry still knows this one. A registry that lost its
     * state, or a proxy answering 404 during a redeploy, is an outage, not bad records.
     */
    private readonly sanity?: { registryUrl: string; knownId: number },
    /** How long an unknown id stays unknown before it is asked about again (ms; 0: every batch that starts after the answer asks). */
    private readonly unknownRetryMs: number = UNKNOWN_ID_RETRY_MS,
  ) {}

  private async registryLooksHealthy(): Promise<boolean> {
    if (!this.sanity) return true;
    try {
      const res = await fetch(`${this.sanity.registryUrl}/schemas/ids/${this.sanity.knownId}`, {
        headers: headersOf(this.registry),
        signal: AbortSignal.timeout(5_000),
      });
      return res.ok;
    } catch {
      return false;
    }
  }

  /** Fetches and resolves one writer schema. Throws PoisonRecordError for an unknown id, DependencyError when the registry is unreachable. */
  private async resolve(id: number): Promise<void> {
    let writer: avro.Type;
    try {
      writer = (await this.registry.getSchema(id)) as unknown as avro.Type;
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 404 && !(await this.registryLooksHealthy())) {
        throw new DependencyError(
          'schema-registry',
          `schema id ${id} not found, and neither is the known id ${this.sanity?.knownId}: the registry lost its state or is not the right endpoint`,
          err,
        );
      }
      if (status === 404) {
        // Not cached: an id registered later must become decodable without a restart.
        throw new PoisonRecordError('UNKNOWN_SCHEMA_ID', `schema id ${id} is not registered`, err);
      }
      if (status === undefined && !isRetriable(err)) {
        // The registry answered, but the library cannot parse what it returned (a schema type or
        // feature it does not support): the record can never be decoded here.
        this.resolved.set(id, {
          ok: false,
          error: new PoisonRecordError('DECODE_FAILED', `schema id ${id} cannot be parsed: ${(err as Error).message}`, err),
        });
        return;
      }
      // Anything else is the registry (or the way to it) failing, never the record: mappersmith even
      // reports a refused connection as "status 400". Retry; readiness goes red meanwhile.
      throw new DependencyError('schema-registry', `cannot fetch schema id ${id}: ${(err as Error).message}`, err);
    }
    if (typeof (writer as { fromBuffer?: unknown }).fromBuffer !== 'function') {
      this.resolved.set(id, {
        ok: false,
        error: new PoisonRecordError('DECODE_FAILED', `schema id ${id} is not an Avro schema`),
      });
      return;
    }
    try {
      const resolver = writer.equals(this.readerType) ? null : this.readerType.createResolver(writer);
      this.resolved.set(id, { ok: true, resolver });
    } catch (err) {
      this.resolved.set(id, {
        ok: false,
        error: new PoisonRecordError(
          'DECODE_FAILED',
          `writer schema id ${id} cannot be read as ${this.readerType.name ?? 'the reader schema'}`,
          err,
        ),
      });
    }
  }

  /**
   * Warms the ids of these values, tolerating unknown ids (they fail in decode). Retriable
   * registry failures propagate so the caller can pause and retry. An id found unknown is asked
   * about again once `unknownRetryMs` has passed (in the first batch after that), so one registered
   * since starts decoding without a restart; records carrying it meanwhile are dead-lettered as
   * UNKNOWN_SCHEMA_ID, as they would be had they come before it was registered.
   */
  async warmValues(values: Iterable<Buffer | null>): Promise<void> {
    const now = performance.now();
    let asked: Set<number> | null = null;
    // Indexed: iterating an Iterable-typed argument allocated an iterator result per record.
    const list = Array.isArray(values) ? (values as ReadonlyArray<Buffer | null>) : [...values];
    for (let i = 0; i < list.length; i++) {
      const v = list[i] as Buffer | null;
      let id: number;
      try {
        id = schemaIdOf(v);
      } catch {
        continue;
      }
      if (this.resolved.has(id) || (this.unknown.get(id) ?? 0) > now) continue;
      // Once per id per batch at most, even when many records carry the same unknown id.
      if (asked?.has(id)) continue;
      (asked ??= new Set()).add(id);
      try {
        await this.resolve(id);
        this.unknown.delete(id);
      } catch (err) {
        if (!(err instanceof PoisonRecordError)) throw err;
        this.unknown.delete(id);
        // The oldest entry goes (a Map keeps insertion order): a stream of random ids cannot crowd out for long the ids seen often.
        if (this.unknown.size >= MAX_UNKNOWN_IDS) this.unknown.delete(this.unknown.keys().next().value as number);
        this.unknown.set(id, performance.now() + this.unknownRetryMs);
      }
    }
  }

  /** Decodes one value synchronously; throws PoisonRecordError for anything undecodable. */
  decode(value: Buffer | null): T {
    const id = schemaIdOf(value);
    const entry = this.resolved.get(id);
    if (!entry) {
      if (this.unknown.has(id)) throw new PoisonRecordError('UNKNOWN_SCHEMA_ID', `schema id ${id} is not registered`);
      throw new PoisonRecordError('UNKNOWN_SCHEMA_ID', `schema id ${id} was not resolved before decoding`);
    }
    if (!entry.ok) throw entry.error;
    try {
      // Read in place after the 5-byte framing: fromBuffer would need a subarray, a Buffer object per record.
      const body = value as Buffer;
      const read = this.readerType.decode(body, 5, entry.resolver ?? undefined);
      if (read.offset < 0) throw new Error('truncated buffer');
      if (read.offset < body.length) throw new Error('trailing data');
      return read.value as T;
    } catch (err) {
      throw new PoisonRecordError(
        'DECODE_FAILED',
        `Avro body does not decode with schema id ${id}: ${(err as Error).message}`,
        err,
      );
    }
  }
}

/**
 * Registers a schema under a subject with BACKWARD compatibility; returns its id. Idempotent.
 * The PUT below sets the compatibility on every call; the library's own update on a subject's first
 * registration (`updateConfig`, an option since 4.x) is turned off, as it would only repeat it.
 * Each request has a deadline; a registration that times out or cannot reach the registry is tried
 * again (both steps are idempotent), `attempts` times in all, then fails as a DependencyError. A
 * subject that an earlier attempt registered without its level (the registry then reports NONE,
 * which the library refuses) gets its level first.
 */
export async function registerSchema(
  registry: SchemaRegistry,
  registryUrl: string,
  subject: string,
  schemaJson: string,
  opts: { attempts?: number } = {},
): Promise<number> {
  const attempts = opts.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await registerOnce(registry, registryUrl, subject, schemaJson);
    } catch (err) {
      if (!(err instanceof DependencyError) || attempt >= attempts) throw err;
      await sleep(Math.min(2_000, 200 * 2 ** (attempt - 1)));
    }
  }
}

async function registerOnce(registry: SchemaRegistry, registryUrl: string, subject: string, schemaJson: string): Promise<number> {
  const timeoutMs = timeoutOf(registry);
  const register = () =>
    withDeadline(
      registry.register({ type: SchemaType.AVRO, schema: schemaJson }, { subject, updateConfig: false }),
      timeoutMs,
      `registering ${subject}`,
    );
  let id: number;
  try {
    ({ id } = await register());
  } catch (err) {
    // The library refuses a subject whose compatibility is not BACKWARD (its
    // ConfluentSchemaRegistryCompatibilityError, not exported from its index). The registry reports NONE
    // for a subject registered without a level: what an attempt leaves that registered and then
    // failed or timed out before its PUT below (a retry then met it). txmon's subjects are
    // BACKWARD, set on every call: set it first, then register.
    if ((err as Error | null)?.name !== 'ConfluentSchemaRegistryCompatibilityError') throw asRegistryFailure(err, subject);
    await setBackward(registry, registryUrl, subject, timeoutMs);
    try {
      return (await register()).id;
    } catch (again) {
      throw asRegistryFailure(again, subject);
    }
  }
  await setBackward(registry, registryUrl, subject, timeoutMs);
  return id;
}

/**
 * A registration's error as the caller should treat it: an answer of 5xx, 408 or 429 is the registry
 * failing (Apicurio answers 500 while its own database is away), so a DependencyError, retried; any
 * other answer (409 incompatible, 422 invalid, 401/403) is the request's fault and stays as it is.
 */
export function asRegistryFailure(err: unknown, subject: string): unknown {
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && (status >= 500 || status === 408 || status === 429))
    return new DependencyError('schema-registry', `registering ${subject} failed: HTTP ${status}`, err);
  return err;
}

/** PUTs BACKWARD compatibility on the subject. */
async function setBackward(registry: SchemaRegistry, registryUrl: string, subject: string, timeoutMs: number): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`${registryUrl}/config/${encodeURIComponent(subject)}`, {
      method: 'PUT',
      headers: { ...headersOf(registry), 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: 'BACKWARD' }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new DependencyError(
      'schema-registry',
      `setting BACKWARD compatibility on ${subject} failed: ${requestFailure(err, timeoutMs)}`,
      err,
    );
  }
  // Read to the end either way: an unread body keeps its connection from going back to the pool.
  const text = await res.text().catch(() => '');
  if (!res.ok)
    throw new DependencyError(
      'schema-registry',
      `setting BACKWARD compatibility on ${subject} failed: HTTP ${res.status} ${text}`,
    );
}

/** The library's answer, or a DependencyError once `ms` have passed without one. */
function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DependencyError('schema-registry', `${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** Why a direct request failed, in words: its deadline, or the network error under fetch's "fetch failed". */
function requestFailure(err: unknown, timeoutMs: number): string {
  const e = err as { name?: unknown; message?: unknown; cause?: { message?: unknown } } | null;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const cause = typeof e?.cause?.message === 'string' ? ` (${e.cause.message})` : '';
  return `${typeof e?.message === 'string' ? e.message : String(err)}${cause}`;
}
