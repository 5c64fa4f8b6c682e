import type { Json } from './common.js';

/** An array job's request field and the array info of its parent (component schemas). */
const str = { type: 'string' };

export const ARRAY_SCHEMAS: Json = {
  ArrayRequest: {
    description:
      'bai extension, batch only: an array job. "A-B" (indices A to B) or "A-B%P" (at most P children placed at once), or {size, parallelism?, start?}; at most 10,000 children. One parent and a child per index, named <name>-<index>, each with BAI_ARRAY_INDEX and BAI_ARRAY_SIZE.',
    oneOf: [
      { type: 'string', pattern: '^\\d+-\\d+(%\\d+)?$' },
      {
        type: 'object',
        required: ['size'],
        properties: {
          size: { type: 'integer', minimum: 1, maximum: 10000 },
          parallelism: { type: 'integer', minimum: 1 },
          start: { type: 'integer', minimum: 0 },
        },
      },
    ],
  },
  ArrayInfo: {
    type: 'object',
    description:
      "the parent of an array job: its children's counts by status and a page of them in index order (children_limit, children_offset)",
    properties: {
      size: { type: 'integer' },
      parallelism: { type: ['integer', 'null'] },
      start: { type: 'integer' },
      spec: { type: 'string', description: 'A-B or A-B%P' },
      counts: { type: 'object', additionalProperties: { type: 'integer' } },
      children: {
        type: 'object',
        properties: {
          items: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                index: { type: 'integer' },
                sessionId: str,
                sessionName: str,
                status: str,
                result: str,
                exitCode: { type: ['integer', 'null'] },
              },
            },
          },
          total: { type: 'integer' },
          limit: { type: 'integer' },
          offset: { type: 'integer' },
        },
      },
    },
  },
};
