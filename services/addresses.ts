/** Where each service lives, derived from the validated config (never from the environment). */
import type { TxmonConfig } from '../config/config.ts';

export interface HostPort {
  host: string;
  port: number;
}

export interface MysqlServer extends HostPort {
  user: string;
  password: string;
}

/** Formats host:port, bracketing IPv6 literals. */
export function formatHostPort(a: HostPort): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Whether a host is this machine's loopback, i.e. a service txmon may start itself. */
export function isLocalHost(host: string): boolean {
  return ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host.toLowerCase());
}

/** The first broker of TXMON_KAFKA_BROKERS: the one the local Kafka listens on. */
export function kafkaAddress(cfg: TxmonConfig): HostPort {
  const broker = cfg.kafka.brokers[0] ?? '127.0.0.1:9092';
  const i = broker.lastIndexOf(':');
  return { host: broker.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(broker.slice(i + 1)) };
}

/** Host and port of TXMON_REGISTRY_URL. */
export function registryAddress(cfg: TxmonConfig): HostPort {
  const url = new URL(cfg.registryUrl);
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port };
}

/** Host, port and credentials of the MySQL/MariaDB server of TXMON_MYSQL_URL (and TXMON_MYSQL_PASSWORD(_FILE)). */
export function mysqlServer(cfg: TxmonConfig): MysqlServer {
  const { host, port, user, password } = cfg.mysql;
  return { host, port, user, password: password?.reveal() ?? '' };
}

/** Host and port of TXMON_REDIS_URL. */
export function redisAddress(cfg: TxmonConfig): HostPort {
  const url = new URL(cfg.redisUrl);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port ? Number(url.port) : 6379 };
}
