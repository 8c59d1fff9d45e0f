/**
 * One errors module: every txmon error has a stable code, says whether retrying can help,
 * and keeps its cause. Programmer errors (TypeError, RangeError, ...) are never retriable.
 */

export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'DEPENDENCY_UNAVAILABLE'
  | 'DECODE_FAILED'
  | 'UNKNOWN_SCHEMA_ID'
  | 'VALIDATION_FAILED'
  | 'PAN_DETECTED'
  | 'SERVICE_FAILED'
  | 'BAD_INPUT'
  | 'INVARIANT_BROKEN';

export class TxmonError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** Bad configuration: fail at start-up, naming the setting. */
export class ConfigError extends TxmonError {
  constructor(message: string) {
    super('CONFIG_INVALID', message);
  }
}

/** A dependency (broker, registry, Redis, MySQL) cannot be reached right now; retry with backoff. */
export class DependencyError extends TxmonError {
  readonly dependency: string;
  constructor(dependency: string, message: string, cause?: unknown) {
    super('DEPENDENCY_UNAVAILABLE', `${dependency}: ${message}`, { retriable: true, cause });
    this.dependency = dependency;
  }
}

/**
 * Redis lost txmon's state (its marker key is gone: an empty Redis after a restart, a failover
 * that dropped writes). Processing waits while the windows are rebuilt from MySQL, then retries.
 */
export class StateLostError extends DependencyError {
  constructor(message: string) {
    super('redis', message);
  }
}

/** A record that can never be processed (poison): it goes to the dead-letter topic with this reason. */
export class PoisonRecordError extends TxmonError {
  constructor(
    code: 'DECODE_FAILED' | 'UNKNOWN_SCHEMA_ID' | 'VALIDATION_FAILED' | 'PAN_DETECTED',
    message: string,
    cause?: unknown,
  ) {
    super(code, message, { retriable: false, cause });
  }
}

/** A command's input (a file, an argument) cannot be used; the message says what and where. Exit code 2. */
export class InputError extends TxmonError {
  constructor(message: string, cause?: unknown) {
    super('BAD_INPUT', message, { cause });
  }
}

/** A managed local service failed to start or stop. */
export class ServiceError extends TxmonError {
  constructor(message: string, cause?: unknown) {
    super('SERVICE_FAILED', message, { cause });
  }
}

const PROGRAMMER_ERRORS = [TypeError, RangeError, ReferenceError, SyntaxError];

const RETRIABLE_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
  'ER_QUERY_INTERRUPTED',
  'ER_CONNECTION_KILLED',
  'ECONNABORTED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  // MySQL after a failover to a read-only replica, or while the server is busy
  'ER_OPTION_PREVENTS_STATEMENT',
  'ER_READ_ONLY_MODE',
  'ER_TOO_MANY_USER_CONNECTIONS',
]);

/**
 * MySQL refusing the login or the database to this user: the configuration (TXMON_MYSQL_URL, the
 * password setting) or the server's grants, which no retry fixes. mysql2 marks them fatal (the
 * connection is gone), which would read as "a new connection may work" and retry forever.
 */
const MYSQL_LOGIN_REFUSED = new Set(['ER_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR']);

/** The MySQL error in a cause chain that refused the login or the database (null: none). */
export function mysqlLoginRefused(err: unknown): Error | null {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 8; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && MYSQL_LOGIN_REFUSED.has(code)) return e as Error;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

/**
 * The database TXMON_MYSQL_URL names does not exist (ER_BAD_DB_ERROR, 1049): never migrated, or the
 * URL names another one. Returns that error, wherever it is in the cause chain, or null.
 */
export function mysqlUnknownDatabase(err: unknown): Error | null {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 8; depth++) {
    const { code, errno } = e as { code?: unknown; errno?: unknown };
    if (code === 'ER_BAD_DB_ERROR' || errno === 1049) return e as Error;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

const RETRIABLE_MESSAGE = [
  /Connection is closed/i,
  /Reached the max retries per request limit/i,
  /Can't add new command when connection is in closed state/i,
  /Stream isn't writeable/i,
  /LOADING Redis is loading/i,
  /Pool is closed/i,
  /Command timed out/i,
  // Redis replies that mean "not now": failover, loading, busy script, memory pressure, cluster moves
  /^(READONLY|OOM|MASTERDOWN|LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|NOSCRIPT|NOREPLICAS|MOVED|ASK)\b/,
  // ioredis's Cluster while slots move between nodes (a master failed over): it gave up following MOVED.
  /^Too many Cluster redirections/,
  // HTTP clients that wrap socket errors in their own error types keep the code in the message.
  /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN)\b/,
  /socket hang up/i,
];

/**
 * Whether retrying the failed operation can succeed. Walks the cause chain; programmer errors
 * are never retriable; kafkajs errors carry their own `retriable` flag.
 */
export function isRetriable(err: unknown): boolean {
  // Whatever wraps it (a DependencyError is retriable by construction): a refused login is configuration.
  if (mysqlLoginRefused(err)) return false;
  for (let e: unknown = err, depth = 0; e && depth < 8; depth++) {
    if (PROGRAMMER_ERRORS.some((cls) => e instanceof cls)) return false;
    if (e instanceof TxmonError) return e.retriable;
    if (typeof e === 'object') {
      const obj = e as {
        retriable?: unknown;
        code?: unknown;
        errno?: unknown;
        message?: unknown;
        name?: unknown;
        fatal?: unknown;
        cause?: unknown;
      };
      if (typeof obj.retriable === 'boolean' && obj.retriable) return true;
      if (typeof obj.code === 'string' && RETRIABLE_NETWORK_CODES.has(obj.code)) return true;
      if (obj.fatal === true) return true; // mysql2: the connection died, a new one may work
      if (
        obj.name === 'KafkaJSNumberOfRetriesExceeded' ||
        obj.name === 'KafkaJSConnectionError' ||
        obj.name === 'KafkaJSRequestTimeoutError'
      )
        return true;
      if (typeof obj.message === 'string' && RETRIABLE_MESSAGE.some((re) => re.test(obj.message as string))) return true;
      // AggregateError from node's net (happy eyeballs) carries the real errors in .errors
      const errors = (e as { errors?: unknown }).errors;
      if (Array.isArray(errors) && errors.some((x) => isRetriable(x))) return true;
      e = obj.cause;
    } else {
      break;
    }
  }
  return false;
}

/** Short class name of an error, for dead-letter reasons and metrics labels. */
export function errorClass(err: unknown): string {
  if (err instanceof TxmonError) return err.code;
  if (err instanceof Error) return err.name;
  return 'UnknownError';
}

/** The message of any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
