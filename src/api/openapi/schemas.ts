import { ref, type Json } from './common.js';
import { ARRAY_SCHEMAS } from './array-schemas.js';
import { RETRY_SCHEMAS } from './retry-schemas.js';

/** The component schemas of the OpenAPI document. */
const str = { type: 'string' };
const strOrNull = { type: ['string', 'null'] };
const slots = { type: 'object', additionalProperties: { type: 'number' } };

export const SCHEMAS: Json = {
  ...RETRY_SCHEMAS,
  ...ARRAY_SCHEMAS,
  Problem: {
    type: 'object',
    required: ['type', 'title'],
    properties: {
      type: { type: 'string', description: 'https://api.backend.ai/probs/<slug>' },
      title: str,
      msg: str,
      data: {},
    },
  },
  Version: {
    type: 'object',
    properties: { version: { type: 'string', pattern: '^v\\d+\\.\\d{8}$' }, manager: str },
  },
  Health: {
    type: 'object',
    properties: {
      ok: { type: 'boolean' },
      eventTail: {
        type: 'object',
        properties: {
          ok: { type: 'boolean' },
          since: { type: 'string', format: 'date-time' },
          lastError: strOrNull,
        },
      },
    },
  },
  CreateSession: {
    type: 'object',
    description: 'Every field also in its other spelling (snake_case / camelCase).',
    required: ['image'],
    properties: {
      name: { type: 'string', pattern: '^\\w[\\w.-]*\\w$', minLength: 4, maxLength: 64 },
      image: str,
      type: { enum: ['batch', 'interactive'] },
      group: {
        type: 'string',
        description:
          '"default" for every keypair of the domain; another group only for its members (admins: any)',
      },
      domain: str,
      architecture: {
        type: ['string', 'null'],
        description: 'x86_64, aarch64 (arch); only agents running it; none in the scaling group is a 400',
      },
      owner_access_key: strOrNull,
      enqueueOnly: { type: 'boolean' },
      maxWaitSeconds: { type: 'integer', minimum: 0 },
      reuseIfExists: { type: 'boolean' },
      idempotencyKey: {
        type: 'string',
        minLength: 1,
        maxLength: 255,
        description:
          'the Idempotency-Key header, for clients that cannot set headers (also idempotency_key); not part of the body the key compares',
      },
      startupCommand: str,
      starts_at: { type: 'string', description: 'ISO-8601 or relative (10min, 1h30m, +30s)' },
      batch_timeout: { type: ['string', 'number'], description: 'seconds or N(s|m|h|d|w)' },
      dependencies: {
        type: 'array',
        maxItems: 64,
        items: {
          oneOf: [
            { type: 'string', description: 'a session id or name of the keypair (afterok)' },
            {
              type: 'object',
              required: ['session'],
              properties: { session: str, condition: { $ref: '#/components/schemas/DependencyCondition' } },
            },
          ],
        },
        description:
          'runs when each dependency ended as its condition asks; a condition that can no longer hold cancels it dependency-failed',
      },
      startDeadline: {
        type: ['integer', 'string'],
        description:
          'start_deadline: seconds or N(s|m|h|d|w) after starts_at (or submit) by which it must be placed on an agent, else CANCELLED start-deadline-exceeded',
      },
      callback_url: {
        type: 'string',
        format: 'uri',
        description:
          'checked at each send: addresses inside the network are refused unless the operator allow-lists them (GET /session/{ref}/callbacks)',
      },
      priority: { type: 'integer', minimum: 0, maximum: 100 },
      clusterSize: { type: 'integer', minimum: 1 },
      clusterMode: { enum: ['single-node', 'multi-node'] },
      bootstrap_script: {
        type: ['string', 'null'],
        description: "null or absent: the keypair's bootstrap_script, if it has one",
      },
      tag: { type: ['string', 'null'], description: 'printable text: control characters are a 400' },
      retry: ref('RetryRequest'),
      array: ref('ArrayRequest'),
      config: {
        type: 'object',
        properties: {
          mounts: {
            type: 'array',
            items: str,
            description:
              'storage folders the keypair owns or was invited to, as NAME, NAME:ro or NAME:rw; any other name is a 404',
          },
          mount_map: { type: 'object', additionalProperties: str },
          mount_ids: {
            type: 'array',
            items: { type: 'string', format: 'uuid' },
            description: 'storage folders by id, checked as by name',
          },
          mount_id_map: { type: 'object', additionalProperties: str, description: 'folder id → target' },
          mount_options: {
            type: ['object', 'null'],
            description:
              'folder name or id → {permission|perm: ro|rw|wd, mount_destination, type: bind}; an option for a folder not mounted, subpath or an unknown key is a 400',
            additionalProperties: {
              type: 'object',
              properties: {
                permission: { enum: ['ro', 'rw', 'wd'] },
                perm: { enum: ['ro', 'rw', 'wd'] },
                mount_destination: str,
                type: { enum: ['bind'] },
              },
            },
          },
          environ: { type: 'object', additionalProperties: str },
          resources: { type: 'object', description: 'cpu, mem (4g, 512m), device slots' },
          resource_opts: {
            type: 'object',
            properties: { shmem: str, allow_fractional_resource_fragmentation: { type: 'boolean' } },
            description: 'any other key is a 400 naming it',
          },
          scalingGroup: {
            type: 'string',
            description: 'one the keypair and its domain may use (else 404 object-not-found)',
          },
          preopen_ports: { type: ['array', 'null'], maxItems: 0, description: 'null or empty only' },
          agentList: { type: ['array', 'null'], maxItems: 0, description: 'agent_list; null or empty only' },
          attach_network: { type: 'null', description: 'null only' },
        },
      },
    },
  },
  CreateAnswer: {
    type: 'object',
    properties: {
      sessionId: str,
      sessionName: str,
      status: str,
      servicePorts: { type: 'array' },
      created: { type: 'boolean' },
      result: str,
      exitCode: { type: ['integer', 'null'] },
    },
  },
  SessionInfo: {
    type: 'object',
    properties: {
      sessionId: str,
      sessionName: str,
      type: str,
      status: str,
      statusInfo: strOrNull,
      statusData: { type: 'object' },
      statusHistory: { type: 'object' },
      result: { enum: ['UNDEFINED', 'SUCCESS', 'FAILURE'] },
      exitCode: { type: ['integer', 'null'] },
      dependencies: { type: 'array', items: str, description: 'ids of the sessions it waits for' },
      dependencyConditions: {
        type: 'array',
        items: {
          type: 'object',
          properties: { sessionId: str, condition: { $ref: '#/components/schemas/DependencyCondition' } },
        },
      },
      startDeadline: { type: ['integer', 'null'], description: 'seconds; null: none' },
      scheduleName: { type: ['string', 'null'], description: 'the schedule that created it' },
      scheduledFor: { type: ['string', 'null'], description: 'its instant (ISO UTC)' },
      kernels: { type: 'array', items: { type: 'object' } },
      attempt: { type: 'integer', description: 'the current attempt, from 1' },
      attempts: { type: 'array', items: ref('SessionAttempt') },
      array: ref('ArrayInfo'),
      arrayParent: {
        type: 'object',
        description: 'a child of an array job: its parent and index',
        properties: {
          sessionId: str,
          sessionName: str,
          index: { type: 'integer' },
          size: { type: 'integer' },
        },
      },
    },
    additionalProperties: true,
  },
  DependencyCondition: {
    enum: ['afterok', 'afterany', 'afternotok'],
    description:
      'afterok (default): after it ended TERMINATED/SUCCESS; afterany: after it ended in any way; afternotok: after it ended otherwise',
  },
  SessionSummary: {
    type: 'object',
    properties: { scheduleName: strOrNull, scheduledFor: strOrNull },
    additionalProperties: true,
  },
  Keypair: {
    type: 'object',
    properties: {
      access_key: str,
      user_email: str,
      domain_name: str,
      role: { enum: ['user', 'admin', 'superadmin'] },
      is_active: { type: 'boolean' },
      resource_policy: str,
      rate_limit: { type: ['integer', 'null'] },
      bootstrap_script: {
        type: ['string', 'null'],
        description: 'run by sessions of this keypair whose request brings none',
      },
      created_at: str,
      secret_key: { type: 'string', description: 'only in the answer of POST /keypairs' },
      webhook_secret: { type: 'string', description: 'POST /keypairs and GET /keypairs/me only' },
    },
  },
  NewKeypair: {
    type: 'object',
    required: ['user_email'],
    properties: {
      user_email: str,
      domain_name: str,
      role: { enum: ['user', 'admin', 'superadmin'] },
      resource_policy: str,
      rate_limit: { type: ['integer', 'null'] },
      access_key: str,
      secret_key: str,
      bootstrap_script: strOrNull,
    },
  },
  Token: {
    type: 'object',
    properties: {
      id: str,
      access_key: str,
      name: str,
      created_at: str,
      last_used_at: strOrNull,
      revoked_at: strOrNull,
      token: { type: 'string', description: 'only in the answer of POST /tokens' },
    },
  },
  Folder: {
    type: 'object',
    properties: {
      id: str,
      name: str,
      owner_access_key: { type: ['string', 'null'], description: "null for a group's folder" },
      domain_name: str,
      group_name: { type: ['string', 'null'], description: "the owning group; null for a keypair's folder" },
      access: { enum: ['owner', 'ro', 'rw'], description: 'how the caller may use it' },
      storage_path: { type: 'string', description: 'under each agent storage root: <owner>/<name>' },
      created_at: str,
      shares: {
        type: 'array',
        description: 'owner only',
        items: {
          type: 'object',
          properties: { access_key: str, permission: { enum: ['ro', 'rw'] }, created_at: str },
        },
      },
    },
  },
  GroupMember: {
    type: 'object',
    properties: { access_key: str, created_at: str },
  },
  CallbackDelivery: {
    type: 'object',
    properties: {
      id: { type: 'integer' },
      event: str,
      url: str,
      attempts: { type: 'integer' },
      outcome: { enum: ['pending', 'delivered', 'refused', 'redirected', 'failed'] },
      error: strOrNull,
      deliveredAt: strOrNull,
      gaveUpAt: strOrNull,
    },
  },
  ResourcePolicy: {
    type: 'object',
    properties: {
      name: str,
      max_concurrent_sessions: { type: 'integer' },
      max_pending_session_count: { type: ['integer', 'null'] },
      max_priority: { type: 'integer' },
      total_resource_slots: slots,
    },
  },
  Domain: {
    type: 'object',
    properties: {
      name: str,
      allowed_registries: { type: 'array', items: str },
      allowed_storage: { type: 'array', items: str },
      is_active: { type: 'boolean' },
    },
  },
  ScalingGroup: {
    type: 'object',
    properties: {
      name: str,
      description: str,
      is_active: { type: 'boolean' },
      pending_timeout_sec: { type: 'integer' },
    },
  },
  Registry: {
    type: 'object',
    properties: { hostname: str, url: str, has_credentials: { type: 'boolean' }, created_at: str },
  },
  Image: {
    type: 'object',
    properties: {
      name: str,
      registry: str,
      labels: { type: 'object', additionalProperties: str },
      aliases: { type: 'array', items: str },
    },
  },
  Alias: { type: 'object', properties: { alias: str, image: str } },
  ScalingGroupAccess: {
    type: 'object',
    properties: {
      scaling_group: str,
      domains: { type: 'array', items: str },
      keypairs: { type: 'array', items: str },
    },
  },
  Agent: {
    type: 'object',
    properties: {
      id: str,
      scaling_group: str,
      status: str,
      schedulable: { type: 'boolean' },
      architecture: { type: 'string', description: 'x86_64, aarch64… as the agent reported it' },
      available_slots: slots,
      occupied_slots: slots,
      free_slots: slots,
      running_kernels: { type: 'integer' },
      last_heartbeat: str,
    },
  },
};
