/** A transaction by id: what it was (no card data, no location), its decision, alerts and reconciliation status. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RowDataPacket } from 'mysql2/promise';
import { Type } from 'typebox';
import type { Pool } from '../../platform/mysql.ts';
import { CURRENT_RESOLUTION_SQL } from '../../sinks/recon-report.ts';
import { HttpProblem } from '../plugins/errors.ts';
import { Id, problems } from '../schemas/common.ts';

type Row = RowDataPacket & Record<string, unknown>;
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

const TransactionView = Type.Object({
  transaction_id: Type.String(),
  type: Type.String(),
  account_id: Type.String(),
  merchant_id: Type.String(),
  mcc: Type.String(),
  merchant_country: Type.String(),
  amount_minor: Type.Integer(),
  currency: Type.String(),
  channel: Type.String(),
  reference: Type.String(),
  event_time: Type.String({ format: 'date-time' }),
  late: Type.Boolean(),
  decision: Type.Union([
    Type.Object({
      decision: Type.String(),
      risk_score: Type.Number(),
      model_version: Nullable(Type.String()),
      ruleset_version: Type.String(),
      alert_id: Nullable(Type.String()),
    }),
    Type.Null(),
  ]),
  alerts: Type.Array(Type.Object({ alert_id: Type.String(), status: Type.String(), decision: Type.String() })),
  reconciliation: Type.Union([
    Type.Object({ reference: Type.String(), status: Type.String(), reason: Type.String(), resolution: Nullable(Type.String()) }),
    Type.Null(),
  ]),
});

const transactionRoutes: FastifyPluginAsyncTypebox<{ pool: Pool }> = async (app, { pool }) => {
  app.get(
    '/transactions/:transactionId',
    {
      config: { roles: ['analyst', 'admin'] },
      schema: {
        tags: ['transactions'],
        summary: 'A transaction with its decision, alerts and reconciliation status',
        params: Type.Object({ transactionId: Id }, { additionalProperties: false }),
        response: { 200: TransactionView, ...problems(404) },
      },
    },
    async (request) => {
      const id = request.params.transactionId;
      const [[t]] = await pool.query<Row[]>(
        `SELECT transaction_id, type, account_id, merchant_id, mcc, merchant_country, amount_minor, currency, channel, reference,
                event_time, late FROM transactions WHERE transaction_id = ?`,
        [id],
      );
      if (!t) throw new HttpProblem(404, `no transaction ${id}`);
      const [[d]] = await pool.query<Row[]>(
        'SELECT decision, risk_score, model_version, ruleset_version, alert_id FROM transactions WHERE transaction_id = ? AND decision IS NOT NULL',
        [id],
      );
      const [alerts] = await pool.query<Row[]>('SELECT alert_id, status, decision FROM alerts WHERE transaction_id = ?', [id]);
      const [[r]] = await pool.query<Row[]>(
        `SELECT reference, status, reason, ${CURRENT_RESOLUTION_SQL} AS resolution FROM recon_results WHERE reference = ?`,
        [String(t.reference)],
      );
      return {
        transaction_id: String(t.transaction_id),
        type: String(t.type),
        account_id: String(t.account_id),
        merchant_id: String(t.merchant_id),
        mcc: String(t.mcc),
        merchant_country: String(t.merchant_country),
        amount_minor: Number(t.amount_minor),
        currency: String(t.currency),
        channel: String(t.channel),
        reference: String(t.reference),
        event_time: (t.event_time as Date).toISOString(),
        late: Number(t.late) === 1,
        decision: d
          ? {
              decision: String(d.decision),
              risk_score: Number(d.risk_score),
              model_version: d.model_version == null ? null : String(d.model_version),
              ruleset_version: String(d.ruleset_version),
              alert_id: d.alert_id == null ? null : String(d.alert_id),
            }
          : null,
        alerts: alerts.map((a) => ({ alert_id: String(a.alert_id), status: String(a.status), decision: String(a.decision) })),
        reconciliation: r
          ? {
              reference: String(r.reference),
              status: String(r.status),
              reason: String(r.reason),
              resolution: r.resolution == null ? null : String(r.resolution),
            }
          : null,
      };
    },
  );
};

export default transactionRoutes;
