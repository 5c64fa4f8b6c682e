import type { Redis } from 'ioredis';
import { heartbeatKey } from '../../queue/names.js';
import type { Heartbeat } from '../../queue/payloads.js';
import type { Tracked } from './tracked.js';

/** How long a heartbeat key lives: an agent silent past it is gone for the manager. */
const HEARTBEAT_TTL_MS = 120_000;

/** A heartbeat's session entry: a session past its preparation. */
type Reported = Tracked & { state: Heartbeat['sessions'][number]['state'] };

/** What the agent publishes each beat; sessions still preparing are not reported yet. */
export function heartbeatOf(
  input: Omit<Heartbeat, 'engineDown' | 'sessions'> & { engineUp: boolean; sessions: readonly Tracked[] },
): Heartbeat {
  const { engineUp, sessions, ...rest } = input;
  return {
    ...rest,
    ...(engineUp ? {} : { engineDown: true }),
    sessions: sessions
      .filter((t): t is Reported => t.state !== 'preparing')
      .map((t) => ({ sessionId: t.sessionId, attempt: t.attempt, state: t.state })),
  };
}

export async function publishHeartbeat(redis: Redis, prefix: string, hb: Heartbeat): Promise<void> {
  await redis.set(heartbeatKey(prefix, hb.agentId), JSON.stringify(hb), 'PX', HEARTBEAT_TTL_MS);
}
