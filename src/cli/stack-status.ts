import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { uptimeOf } from '../stack/process-identity.js';
import { dockerAnswers, managerAnswers, redisAnswers } from '../stack/probes.js';
import type { PartName, PartRecord } from '../stack/stack-state.js';
import { envFileOf, readEnvFile } from '../config/env-file.js';
import { listAgents, loadState, statePathOf, verdictOf } from './local-stack.js';

/** One line of `bai status`: a part of the local stack, asked whether it answers. */
export interface PartStatus {
  name: 'manager' | 'agent' | 'redis' | 'database' | 'docker';
  /** The process, when bai up started it and it is still that process. */
  pid: number | null;
  address: string;
  answers: boolean;
  uptimeSeconds: number | null;
  /** Started by bai up (else given: REDIS_URL, DOCKER_HOST, DATABASE_URL, or the machine's engine). */
  startedByBai: boolean;
  log: string | null;
}

export interface StackStatus {
  stateDir: string;
  /** Where to reach things: the API and the web console (docs/console.md). */
  urls: { manager: string; console: string };
  parts: PartStatus[];
  /** Every part answers. */
  up: boolean;
}

/** Asks each part of the stack recorded in the state folder; null when bai up never ran there. */
export async function stackStatus(stateDir: string): Promise<StackStatus | null> {
  if (!existsSync(statePathOf(stateDir))) return null;
  const st = loadState(stateDir);
  const ours = (name: PartName): PartRecord | null => {
    const rec = st.parts.find((p) => p.name === name);
    return rec && verdictOf(rec) === 'ours' ? rec : null;
  };
  const proc = (rec: PartRecord | null) => ({
    pid: rec?.pid ?? null,
    uptimeSeconds: rec?.startTime !== undefined ? uptimeOf(rec.startTime) : null,
  });

  const manager = ours('manager');
  const managerUp = manager !== null && (await managerAnswers(manager.address));
  const env = readEnvFile(envFileOf(stateDir));
  const keys = { accessKey: env.BACKEND_ACCESS_KEY ?? '', secretKey: env.BACKEND_SECRET_KEY ?? '' };
  const agent = ours('agent');
  const agents = managerUp ? await listAgents(st.endpoint, keys) : null;
  const agentUp =
    agent !== null && (agents?.some((a) => a.id === agent.address && a.status === 'ALIVE') ?? false);
  // The database answers when the manager's API can read it (listing agents reads it).
  const databaseUp = agents !== null;
  const redis = ours('redis');
  const redisUrl = redis?.address ?? st.redisUrl;
  const engine = ours('dockerd');
  const dockerHost = engine?.address ?? st.dockerHost;
  const embedded = st.database?.startsWith('embedded') ?? true;
  const ownRedis =
    redis !== null || (st.redisPort !== null && st.redisUrl === `redis://127.0.0.1:${st.redisPort}`);
  const ownEngine = engine !== null || dockerHost === `unix://${join(stateDir, 'docker', 'docker.sock')}`;

  const parts: PartStatus[] = [
    {
      name: 'manager',
      ...proc(manager),
      address: st.endpoint,
      answers: managerUp,
      startedByBai: true,
      log: join(stateDir, 'manager.log'),
    },
    {
      name: 'agent',
      ...proc(agent),
      address: agent?.address ?? '',
      answers: agentUp,
      startedByBai: true,
      log: join(stateDir, 'agent.log'),
    },
    {
      name: 'redis',
      ...proc(redis),
      address: redisUrl ?? '',
      answers: redisUrl ? await redisAnswers(redisUrl) : false,
      startedByBai: ownRedis,
      log: ownRedis ? join(stateDir, 'redis', 'redis.log') : null,
    },
    {
      name: 'database',
      // The embedded database lives in the manager's process.
      ...(embedded ? proc(manager) : { pid: null, uptimeSeconds: null }),
      address: st.database ?? `embedded PGlite in ${join(stateDir, 'pgdata')}`,
      answers: databaseUp,
      startedByBai: embedded,
      log: embedded ? join(stateDir, 'manager.log') : null,
    },
    {
      name: 'docker',
      ...proc(engine),
      address: dockerHost ?? '',
      answers: dockerHost ? await dockerAnswers(dockerHost) : false,
      startedByBai: ownEngine,
      log: ownEngine ? join(stateDir, 'docker', 'dockerd.log') : null,
    },
  ];
  const urls = { manager: st.endpoint, console: st.endpoint ? `${st.endpoint}/console` : '' };
  return { stateDir, urls, parts, up: parts.every((p) => p.answers) };
}

/** An uptime as people read it: 42s, 5m03s, 2h07m, 3d04h. */
export function formatUptime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${pad(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d${pad(Math.floor(s / 3600) % 24)}h`;
}
