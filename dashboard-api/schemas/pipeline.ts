/** The pipeline view's schema (GET /pipeline). */
import { Type, type Static } from 'typebox';

export const Pipeline = Type.Object({
  groups: Type.Array(
    Type.Object({
      group: Type.String(),
      topic: Type.String(),
      lag: Type.Integer(),
      records_per_second: Type.Union([Type.Number(), Type.Null()], {
        description: 'Committed records per second since the previous call at least 5 s earlier (null on the first).',
      }),
      partitions: Type.Array(
        Type.Object({ partition: Type.Integer(), committed: Type.Integer(), end: Type.Integer(), lag: Type.Integer() }),
      ),
    }),
  ),
  dead_letters: Type.Array(Type.Object({ topic: Type.String(), records: Type.Integer() })),
  transactions: Type.Object(
    {
      stored: Type.Union([Type.Integer(), Type.Null()]),
      late: Type.Union([Type.Integer(), Type.Null()]),
      duplicates: Type.Union([Type.Integer(), Type.Null()]),
    },
    { description: 'Null until MySQL has answered the counts once.' },
  ),
  age_seconds: Type.Object(
    {
      kafka: Type.Number({ description: 'Age of the lag and dead-letter reading (above ~2 s: the broker is not answering).' }),
      counts: Type.Union([Type.Number(), Type.Null()], { description: 'Age of the transaction counts (null: none yet).' }),
    },
    { description: 'How old each part is: a part that could not be read within the deadline is the last one read.' },
  ),
});

export type GroupView = Static<typeof Pipeline>['groups'][number];
