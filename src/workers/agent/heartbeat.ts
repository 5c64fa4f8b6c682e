import type { Redis } from 'ioredis';
import type { Slots } from '../../domain/resources.js';
import { heartbeatKey } from '../../queue/names.js';
import type { Heartbeat } from '../../queue/payloads.js';
import type { Tracked } from './tracked.js';

/** How long a heartbeat key lives: an agent silent past it is gone for the manager. */
const HEARTBEAT_TTL_MS = 120_000;

/** What the agent publishes each beat; sessions still preparing are not reported yet. */
export function heartbeatOf(input: {
  agentId: string;
  scalingGroup: string;
  slots: Slots;
  occupied: Slots;
  draining: boolean;
  engineUp: boolean;
  sessions: readonly Tracked[];
  at: number;
}): Heartbeat {
  return {
    agentId: input.agentId,
    scalingGroup: input.scalingGroup,
    at: input.at,
    slots: input.slots,
    occupied: input.occupied,
    draining: input.draining,
    ...(input.engineUp ? {} : { engineDown: true }),
    sessions: input.sessions
      .filter((t) => t.state !== 'preparing')
      .map((t) => ({
        sessionId: t.sessionId,
        attempt: t.attempt,
        state: t.state === 'exited' ? 'exited' : t.state === 'running' ? 'running' : 'created',
      })),
  };
}

export async function publishHeartbeat(redis: Redis, prefix: string, hb: Heartbeat): Promise<void> {
  await redis.set(heartbeatKey(prefix, hb.agentId), JSON.stringify(hb), 'PX', HEARTBEAT_TTL_MS);
}
