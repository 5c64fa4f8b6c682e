import type { Json } from './common.js';

/** The retry policy of a create request and the attempts of a session (component schemas). */
const strOrNull = { type: ['string', 'null'] };
const duration = { type: ['string', 'number'], description: 'seconds, or N(s|m|h|d|w)' };

export const RETRY_SCHEMAS: Json = {
  RetryRequest: {
    type: 'object',
    description:
      'bai extension. A failed attempt runs again, as a new attempt, when its cause is in `on` (or it exited with a code in `on_exit_codes`) and fewer than `max_attempts` ran. Each field also takes its camelCase spelling.',
    properties: {
      max_attempts: { type: 'integer', minimum: 1, maximum: 20, description: 'attempts in all (default 1)' },
      backoff: { enum: ['fixed', 'exponential'], description: 'default exponential: delay·2^(n−1)' },
      delay: { ...duration, description: 'the first delay (default 1 s); up to 20 % jitter is added' },
      max_delay: { ...duration, description: 'no delay, jitter included, is longer; not below delay' },
      on: {
        type: 'array',
        items: { enum: ['agent-lost', 'image-pull-failed', 'non-zero-exit'] },
        description: 'default: agent-lost, image-pull-failed',
      },
      on_exit_codes: {
        type: 'array',
        items: { type: 'integer', minimum: 1, maximum: 255 },
        minItems: 1,
        maxItems: 64,
        description:
          'a non-zero exit is retried only when its code is listed (e.g. [137, 143]); implies non-zero-exit, other causes unaffected',
      },
    },
  },
  SessionAttempt: {
    type: 'object',
    description: 'an ended attempt: the retried ones, then the one the session ended with',
    properties: {
      attempt: { type: 'integer', minimum: 1 },
      agentId: strOrNull,
      startedAt: { ...strOrNull, description: 'null: its container never started' },
      endedAt: { type: 'string' },
      exitCode: { type: ['integer', 'null'] },
      result: { enum: ['UNDEFINED', 'SUCCESS', 'FAILURE'] },
      reason: { ...strOrNull, description: 'the retry cause, or the final statusInfo' },
    },
  },
};
