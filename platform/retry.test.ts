import { describe, expect, it } from 'vitest';
import { DependencyError, isRetriable, mysqlLoginRefused, mysqlUnknownDatabase } from './errors.ts';
import { backoffDelay, retry } from './retry.ts';

describe('retry', () => {
  it('retries retriable errors until success, with growing capped delays', async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = await retry(
      async () => {
        calls++;
        if (calls < 5) throw new DependencyError('redis', 'down');
        return 'ok';
      },
      { maxMs: 1_000, initialMs: 100, shouldContinue: () => true, random: () => 1, sleep: async (ms) => void delays.push(ms) },
    );
    expect(result).toBe('ok');
    expect(delays).toEqual([100, 200, 400, 800]);
  });

  it('never retries programmer errors', async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw new TypeError('bug');
        },
        { maxMs: 10, shouldContinue: () => true, sleep: async () => {} },
      ),
    ).rejects.toThrow('bug');
    expect(calls).toBe(1);
  });

  it('stops when told to', async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw new DependencyError('mysql', 'down');
        },
        { maxMs: 10, shouldContinue: () => calls < 3, sleep: async () => {} },
      ),
    ).rejects.toThrow('mysql');
    expect(calls).toBe(3);
  });

  it('caps the delay and applies jitter in [0.5, 1]', () => {
    expect(backoffDelay(20, 100, 5_000, () => 1)).toBe(5_000);
    expect(backoffDelay(20, 100, 5_000, () => 0)).toBe(2_500);
  });
});

describe('isRetriable', () => {
  it('classifies network and driver errors', () => {
    expect(isRetriable(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isRetriable(Object.assign(new Error('x'), { code: 'ER_DUP_ENTRY' }))).toBe(false);
    expect(isRetriable(new Error("Stream isn't writeable and enableOfflineQueue options is false"))).toBe(true);
    expect(isRetriable(new Error('wrapped', { cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }) }))).toBe(true);
    expect(isRetriable(new RangeError('bad'))).toBe(false);
    expect(isRetriable(new Error('plain'))).toBe(false);
  });

  it('retries a Redis Cluster whose slots are moving (ioredis gave up following MOVED during a failover)', () => {
    expect(isRetriable(new Error('Too many Cluster redirections. Last error: ReplyError: MOVED 7798 127.0.0.1:17002'))).toBe(
      true,
    );
    expect(isRetriable(new Error('CLUSTERDOWN The cluster is down'))).toBe(true);
    expect(isRetriable(new Error('ERR wrong number of arguments for MOVED'))).toBe(false);
  });

  it('does not retry a login MySQL refused, though the driver marks the connection fatal', () => {
    const refused = Object.assign(new Error("Access denied for user 'x'@'h'"), { code: 'ER_ACCESS_DENIED_ERROR', fatal: true });
    expect(isRetriable(refused)).toBe(false);
    expect(isRetriable(new Error('wrapped', { cause: refused }))).toBe(false);
    expect(mysqlLoginRefused(new Error('wrapped', { cause: refused }))).toBe(refused);
    expect(isRetriable(new DependencyError('mysql', 'a batch step', refused))).toBe(false);
    // A connection lost is still retried.
    expect(isRetriable(Object.assign(new Error('lost'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true }))).toBe(true);
    expect(mysqlLoginRefused(Object.assign(new Error('lost'), { code: 'PROTOCOL_CONNECTION_LOST' }))).toBeNull();
  });
});

describe('isRetriable on wrapped socket errors', () => {
  it('sees the socket error code inside an HTTP client error message', () => {
    // mappersmith (used by the registry client) reports a refused connection like this
    expect(isRetriable(new Error('txmon - Error, status 400: connect ECONNREFUSED 127.0.0.1:8081'))).toBe(true);
  });

  it('recognises a database that does not exist, wherever it is in the cause chain', () => {
    const missing = Object.assign(new Error("Unknown database 'x'"), { code: 'ER_BAD_DB_ERROR', errno: 1049 });
    expect(mysqlUnknownDatabase(new Error('wrapped', { cause: missing }))).toBe(missing);
    expect(mysqlUnknownDatabase(Object.assign(new Error('denied'), { code: 'ER_ACCESS_DENIED_ERROR', errno: 1045 }))).toBeNull();
  });
});
