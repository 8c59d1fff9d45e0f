/**
 * The external clients as a plugin: MySQL, the state Redis and a Kafka admin, decorated onto the app
 * and closed in reverse order when the app closes (after in-flight requests are answered).
 * `owned: false` leaves them to their creator (tests share one pool across apps).
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Admin } from 'kafkajs';
import type { Pool } from '../../platform/mysql.ts';
import type { StateRedis } from '../../platform/redis-pipelines.ts';

export interface Clients {
  pool: Pool;
  redis?: StateRedis;
  admin?: Admin;
}

declare module 'fastify' {
  interface FastifyInstance {
    clients: Clients;
  }
}

export default fp(
  async (app: FastifyInstance, opts: { clients: Clients; owned: boolean }) => {
    app.decorate('clients', opts.clients);
    if (!opts.owned) return;
    app.addHook('onClose', async () => {
      const { pool, redis, admin } = opts.clients;
      await admin?.disconnect().catch((err: unknown) => app.log.warn({ err }, 'closing the Kafka admin failed'));
      redis?.disconnect();
      await pool.end().catch((err: unknown) => app.log.warn({ err }, 'closing the MySQL pool failed'));
    });
  },
  { name: 'txmon-clients' },
);
