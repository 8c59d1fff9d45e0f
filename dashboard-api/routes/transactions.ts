/** A transaction by id: what it was (no card data, no location), its decision, alerts and reconciliation status. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Pool } from '../../platform/mysql.ts';
import { HttpProblem } from '../plugins/errors.ts';
import { transactionView } from '../repositories/transactions.ts';
import { problems } from '../schemas/common.ts';
import { TransactionParams, TransactionView } from '../schemas/transactions.ts';

const transactionRoutes: FastifyPluginAsyncTypebox<{ pool: Pool }> = async (app, { pool }) => {
  app.get(
    '/transactions/:transactionId',
    {
      config: { roles: ['analyst', 'admin'] },
      schema: {
        tags: ['transactions'],
        summary: 'A transaction with its decision, alerts and reconciliation status',
        params: TransactionParams,
        response: { 200: TransactionView, ...problems(404) },
      },
    },
    async (request) => {
      const view = await transactionView(pool, request.params.transactionId);
      if (view === null) throw new HttpProblem(404, `no transaction ${request.params.transactionId}`);
      return view;
    },
  );
};

export default transactionRoutes;
