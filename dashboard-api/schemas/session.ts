import { Type } from 'typebox';

export const SessionInfo = Type.Object({
  name: Type.String(),
  key_id: Type.String(),
  role: Type.Union([Type.Literal('analyst'), Type.Literal('sre'), Type.Literal('admin')]),
  expires_at: Type.String({ format: 'date-time' }),
  csrf_token: Type.String({ description: 'Send as X-CSRF-Token with every write made with this session.' }),
});

export const SignIn = Type.Object(
  { key: Type.String({ minLength: 1, maxLength: 200, description: 'An API key (txmon apikey create).' }) },
  { additionalProperties: false },
);

export const NoContent = Type.Null();
