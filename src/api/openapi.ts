/**
 * The OpenAPI 3.1 document of the manager's API, served unauthenticated at GET /openapi.json
 * and written to docs/openapi.json by `node dist/scripts/openapi.js`. A test checks that every
 * route the app registers is described here, so the two cannot drift apart.
 */
import { SERVER_API_VERSION } from '../domain/api-version.js';
import { ERROR_RESPONSES, ERRORS, json, type Json, type Op } from './openapi/common.js';
import { FOLDER_OPS } from './openapi/folders.js';
import {
  AGENT_OPS,
  DOMAIN_OPS,
  IMAGE_OPS,
  IMAGE_RESOLVE_OPS,
  POLICY_OPS,
  REGISTRY_OPS,
  SCALING_GROUP_OPS,
} from './openapi/infrastructure.js';
import { KEYPAIR_OPS, TOKEN_OPS } from './openapi/keypairs.js';
import { METRICS_OPS } from './openapi/metrics.js';
import { SCHEDULE_OPS } from './openapi/schedules.js';
import { SCHEMAS } from './openapi/schemas.js';
import { META_OPS, SESSION_OPS } from './openapi/sessions.js';
import { TEMPLATE_OPS } from './openapi/templates.js';

/** Every operation, in the document's order (one file of operations per tag group). */
const OPS: Op[] = [
  ...META_OPS,
  ...METRICS_OPS,
  ...SESSION_OPS,
  ...IMAGE_RESOLVE_OPS,
  ...KEYPAIR_OPS,
  ...TOKEN_OPS,
  ...FOLDER_OPS,
  ...TEMPLATE_OPS,
  ...SCHEDULE_OPS,
  ...POLICY_OPS,
  ...DOMAIN_OPS,
  ...SCALING_GROUP_OPS,
  ...REGISTRY_OPS,
  ...IMAGE_OPS,
  ...AGENT_OPS,
];

/** Every (method, OpenAPI path) the document describes, for the route-coverage test. */
export function describedOperations(): { method: string; path: string }[] {
  return OPS.map((o) => ({ method: o.method.toUpperCase(), path: o.path }));
}

export function openApiDocument(managerVersion: string): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const o of OPS) {
    const entry: Json = {
      tags: [o.tag],
      summary: o.summary,
      ...(o.description ? { description: o.description } : {}),
      ...(o.params ? { parameters: o.params } : {}),
      ...(o.body ? { requestBody: { required: true, content: json(o.body) } } : {}),
      responses: { [o.status ?? '200']: o.response, ...o.responses, ...(o.public ? {} : ERRORS) },
      ...(o.public ? { security: [] } : {}),
    };
    (paths[o.path] ??= {})[o.method] = entry;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'bai manager API',
      version: managerVersion,
      description: `Backend.AI-compatible session API (${SERVER_API_VERSION}) plus REST administration. See docs/api.md.`,
    },
    servers: [{ url: 'http://127.0.0.1:8091' }],
    security: [{ BackendAI: [] }, { Bearer: [] }],
    components: {
      securitySchemes: {
        BackendAI: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description:
            'BackendAI signMethod=HMAC-SHA256, credential=<ACCESS_KEY>:<signature>, with Date and X-BackendAI-Version headers (docs/api.md).',
        },
        Bearer: { type: 'http', scheme: 'bearer', description: 'A token from POST /tokens' },
      },
      schemas: SCHEMAS,
      responses: Object.fromEntries(Object.entries(ERROR_RESPONSES).map(([code, r]) => [`E${code}`, r])),
    },
    paths,
  };
}
