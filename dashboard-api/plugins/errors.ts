/**
 * Errors as RFC 9457 problem details, one shape everywhere: validation failures (400) name the
 * field, unknown routes 404, rate limits 429; anything unexpected is a 500 with a generic detail and
 * the real error in the log only (no stack traces or PII in responses).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Socket } from 'node:net';
import { InputError, isRetriable, TxmonError } from '../../platform/errors.ts';
import type { ProblemBody } from '../schemas/common.ts';

/** An error a route throws to answer with a given status and detail. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly problemType = 'about:blank',
  ) {
    super(detail);
  }
}

/** Seconds a client is told to wait after a 503 (Retry-After), unless the route says otherwise. */
export const RETRY_AFTER_SECONDS = 5;

/** MariaDB's error number for a statement stopped by max_statement_time. */
const ER_STATEMENT_TIMEOUT = 1969;

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function sendProblem(reply: FastifyReply, request: FastifyRequest, status: number, detail: string, type = 'about:blank') {
  // A 503 is temporary by definition: it says when to come back (a route may have set its own).
  if (status === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', RETRY_AFTER_SECONDS);
  const body: ProblemBody = { type, title: TITLES[status] ?? 'Error', status, detail, instance: request.url.split('?')[0] };
  return reply.code(status).type('application/problem+json').send(body);
}

/**
 * Fastify's `frameworkErrors` option: errors raised by the router before any route or hook runs (a
 * path parameter longer than maxParamLength is a 414, a malformed URL component a 400) answer in
 * the same problem format instead of fastify's own JSON. Pass it to `Fastify({ frameworkErrors })`.
 */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 400;
  const detail =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'a path segment of the URL is too long'
      : err.code === 'FST_ERR_BAD_URL'
        ? 'the URL has an invalid component'
        : status >= 500
          ? 'the server failed to route this request; the error is in its log'
          : 'the request could not be routed';
  if (status >= 500) request.log.error({ err }, 'request failed before routing');
  void sendProblem(reply, request, status, detail);
}

/**
 * Fastify's `clientErrorHandler` option: a request the HTTP parser refuses (a header too large, a
 * malformed request line) never reaches fastify; it is answered as a problem too, then the
 * connection is closed (the parser cannot tell where the next request starts).
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) return;
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const title = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
  const body = JSON.stringify({ type: 'about:blank', title, status, detail: 'the HTTP request could not be parsed' });
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export default fp(
  async (app: FastifyInstance) => {
    app.setNotFoundHandler((request, reply) =>
      sendProblem(reply, request, 404, `no route ${request.method} ${request.url.split('?')[0]}`),
    );
    app.setErrorHandler((err: FastifyError | Error, request, reply) => {
      if (err instanceof HttpProblem) return sendProblem(reply, request, err.status, err.detail, err.problemType);
      // A txmon input error (e.g. resolving what is not an exception) is the caller's to fix.
      if (err instanceof InputError) return sendProblem(reply, request, 409, err.message);
      const fe = err as FastifyError;
      if (fe.validation) {
        const where = fe.validationContext ?? 'request';
        const first = fe.validation[0];
        const field = first?.instancePath ? `${where}${first.instancePath.replaceAll('/', '.')}` : where;
        return sendProblem(reply, request, 400, `${field} ${first?.message ?? 'is invalid'}`);
      }
      // A read cut off by MariaDB's max_statement_time (the routes bound their expensive queries):
      // the caller can narrow it or retry; nothing is wrong with the server.
      if ((err as { errno?: unknown }).errno === ER_STATEMENT_TIMEOUT) {
        request.log.warn({ route: request.routeOptions.url }, 'query stopped at its time limit');
        return sendProblem(
          reply,
          request,
          503,
          'the query took longer than its limit; narrow it (a date, a status) or retry later',
        );
      }
      if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500)
        return sendProblem(reply, request, fe.statusCode, fe.message);
      // The client is gone (it hung up, or the server is closing): nobody gets this answer.
      if (request.raw.destroyed || reply.raw.destroyed) {
        request.log.debug({ err }, 'request failed after its client went away');
        return reply;
      }
      // A dependency down or restarting (a refused or lost connection, a timeout): the same request
      // can succeed later, so it is a 503 with Retry-After, not a server fault.
      if (isRetriable(err)) {
        request.log.warn({ err, route: request.routeOptions.url }, 'request failed: a dependency is unavailable');
        return sendProblem(
          reply,
          request,
          503,
          'a service this request needs (the database, Redis or the broker) is not answering; retry later',
        );
      }
      request.log.error({ err: err instanceof TxmonError ? { code: err.code, message: err.message } : err }, 'request failed');
      return sendProblem(reply, request, 500, 'the server failed to answer this request; the error is in its log');
    });
  },
  { name: 'txmon-errors' },
);
