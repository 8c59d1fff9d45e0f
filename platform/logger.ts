/** Structured JSON logging (pino). Log lines never carry card data or other PII: pass ids, not records. */
import { pino, destination, type Logger } from 'pino';

export type { Logger };

/** Creates the process logger. `pretty` is for humans at a terminal (demo, CLI). */
export function createLogger(opts: { level: string; pretty?: boolean; name?: string }): Logger {
  const base = {
    level: opts.level,
    name: opts.name ?? 'txmon',
    redact: { paths: ['*.card_token', '*.pan', 'card_token', 'pan', 'err.sql', 'error.sql', '*.sql'], censor: '[redacted]' },
  };
  if (opts.pretty) {
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { destination: 2, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' } },
    });
  }
  return pino(base, destination(2));
}
