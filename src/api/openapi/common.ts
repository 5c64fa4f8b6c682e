/** Helpers the OpenAPI operation tables share (src/api/openapi.ts assembles the document). */
export type Json = Record<string, unknown>;

export const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
export const json = (schema: Json): Json => ({ 'application/json': { schema } });
export const problem = (description: string): Json => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});
export const ok = (description: string, schema: Json = { type: 'object' }): Json => ({
  description,
  content: json(schema),
});
export const list = (item: string): Json => ({
  type: 'object',
  properties: { items: { type: 'array', items: ref(item) } },
});

export const ERROR_RESPONSES: Json = {
  '400': problem(
    'generic-bad-request, invalid-auth-params, invalid-image-label, invalid-schedule, quota-exceeded, session-already-exists',
  ),
  '401': problem('auth-failed: bad signature, unknown/inactive key, revoked token, date skew'),
  '403': problem('generic-forbidden or insufficient-privilege'),
  '404': problem('object-not-found, schedule-not-found or too-many-sessions-matched'),
  '413': problem('payload-too-large'),
  '429': problem('too-many-requests (see X-RateLimit-* headers)'),
  '503': problem('database-unavailable or service-unavailable: temporary, repeat after Retry-After'),
};
export const ERRORS: Json = Object.fromEntries(
  Object.keys(ERROR_RESPONSES).map((code) => [code, { $ref: `#/components/responses/E${code}` }]),
);

export interface Op {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  tag: string;
  summary: string;
  description?: string;
  params?: Json[];
  body?: Json;
  response: Json;
  status?: string;
  /** Answers of this operation only, besides `response` and ERROR_RESPONSES. */
  responses?: Json;
  public?: boolean;
}

export const q = (name: string, description: string, schema: Json = { type: 'string' }): Json => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});
export const p = (name: string, description: string): Json => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: { type: 'string' },
});
export const IDEMPOTENCY_KEY: Json = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    "At most one session per key and owner keypair for the retention (BAI_IDEMPOTENCY_RETENTION_SECONDS, default 7 days): a repeat with the same body answers the key's session (created: false, its current status), whatever its status; another body is a 422 idempotency-key-conflict. Printable, 1-255 characters; the body field idempotencyKey is the same for clients that cannot set headers (both given and different: 400)",
  schema: { type: 'string', minLength: 1, maxLength: 255 },
};
export const SESSION_REF = p('ref', 'Session name (newest of that name), id, or unique id prefix');
export const OWNER = q('owner_access_key', 'Admins: act on a session of this keypair');
export const FOLDER_NAME = p('name', 'Folder name (yours, else one shared with you)');
