import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newAccessKey, newSecret } from '../persistence/catalog-store.js';
import { freePort, portFree } from '../stack/ports.js';
import { identityOf } from '../stack/process-identity.js';
import { launch, waitUntil, which } from '../stack/process-util.js';
import { dockerAnswers, managerAnswers, redisAnswers } from '../stack/probes.js';
import { ensurePythonImage } from '../stack/python-image.js';
import { startDockerd, startRedis } from '../stack/services.js';
import { maskUrl, poolOctetFor, type PartName, type PartRecord } from '../stack/stack-state.js';
import { envFileOf, readEnvFile, writeEnvFile } from '../config/env-file.js';
import { resetLocked } from './stack-down.js';
import {
  agentAnswers,
  loadState,
  lockStack,
  logFileOf,
  saveState,
  stopPart,
  verdictOf,
} from './stack-records.js';

/**
 * The local stack as a small service manager (docs/cli.md, The local stack): `bai up` starts
 * what does not run and adopts what does, `bai down` stops only the processes it can prove it
 * started, and the data (embedded database, Redis, keys) stays in the state folder between them.
 */

const BIN = resolve(fileURLToPath(import.meta.url), '../../../../bin/bai.js');
const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

export type PartAction = 'started' | 'restarted' | 'adopted' | 'external';

export interface PartReport {
  /** As `bai status` names it: redis, docker, manager, agent. */
  name: 'redis' | 'docker' | 'manager' | 'agent';
  pid: number | null;
  address: string;
  action: PartAction;
}

export interface UpResult {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  dockerHost: string;
  parts: PartReport[];
  /** Everything already ran: this `bai up` changed nothing. */
  alreadyUp: boolean;
  /** The keys were made by this `bai up` (the first one, or after a reset): shown once. */
  keysCreated: boolean;
}

function sizeOf(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}

function logSince(file: string, offset: number): string {
  return existsSync(file) ? readFileSync(file).subarray(offset).toString('utf8') : '';
}

/**
 * Polls `check` until true; `fatal` names a reason to give up at once (the process ended). A
 * throw from `check` is "not yet" (quoted if the deadline passes).
 */
async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  fatal: () => string | null = () => null,
): Promise<void> {
  const outcome = await waitUntil<{ dead: string | null }>(
    what,
    async () => {
      const dead = fatal();
      if (dead) return { dead };
      return (await check()) && { dead: null };
    },
    { timeoutMs, intervalMs: 100 },
  );
  if (outcome.dead) throw new Error(outcome.dead);
}

/** A recorded part for a process just launched (its identity read at once). */
function recordOf(name: PartName, pid: number, address: string, log: string): PartRecord {
  const id = identityOf(pid);
  if (!id) throw new Error(`${name} exited at once; see ${log}`);
  return { name, pid, startTime: id.startTime, bootId: id.bootId, address, log };
}

async function pickPort(recorded: number | null, preferred: number): Promise<number> {
  if (recorded && (await portFree(recorded))) return recorded;
  if (await portFree(preferred)) return preferred;
  return freePort();
}

/**
 * Brings the whole stack up on this machine (DESIGN.md, Defaults): Redis as a child process when
 * REDIS_URL is unset, the local Docker engine (our own dockerd under the state folder when none
 * answers and this is root), the python image, the manager (embedded PGlite under the state
 * folder when DATABASE_URL is unset) and one agent. What already runs and answers is adopted;
 * what does not is started. Writes .bai/env and .bai/stack.json.
 */
export async function stackUp(
  stateDir: string,
  env: NodeJS.ProcessEnv,
  say: (s: string) => void,
  opts: { fresh?: boolean } = {},
): Promise<UpResult> {
  const unlock = lockStack(stateDir);
  try {
    if (opts.fresh) await resetLocked(stateDir, say);
    return await upLocked(stateDir, env, say);
  } finally {
    unlock();
  }
}

async function upLocked(
  stateDir: string,
  env: NodeJS.ProcessEnv,
  say: (s: string) => void,
): Promise<UpResult> {
  const st = loadState(stateDir);
  const live = new Map<PartName, PartRecord>();
  for (const rec of st.parts) {
    const v = verdictOf(rec);
    if (v === 'ours') live.set(rec.name, rec);
    else if (v === 'gone') say(`${rec.name}: not running (pid ${rec.pid} ended)`);
    else say(`${rec.name}: pid ${rec.pid} now belongs to another process; record cleared, not signalled`);
  }
  st.parts = [...live.values()];
  saveState(stateDir, st);

  const reports: PartReport[] = [];
  const startedNow: PartRecord[] = [];
  const put = (rec: PartRecord) => {
    st.parts = st.parts.filter((p) => p.name !== rec.name).concat(rec);
    saveState(stateDir, st);
  };
  const drop = async (name: PartName, why: string) => {
    const rec = live.get(name);
    if (!rec) return;
    say(`${name}: ${why}; stopping pid ${rec.pid}`);
    await stopPart(rec);
    live.delete(name);
    st.parts = st.parts.filter((p) => p.name !== name);
    saveState(stateDir, st);
  };
  const report = (name: PartName, pid: number | null, address: string, action: PartAction) => {
    const shown = name === 'dockerd' ? 'docker' : name;
    reports.push({ name: shown, pid, address, action });
    const what = action === 'external' ? 'in use (not started by bai)' : `${action} (pid ${pid})`;
    say(`${shown}: ${what} ${address}`);
  };
  const started = (rec: PartRecord, restarted: boolean) => {
    put(rec);
    startedNow.push(rec);
    report(rec.name, rec.pid, rec.address, restarted ? 'restarted' : 'started');
  };
  const gone = (rec: PartRecord) => () =>
    verdictOf(rec) === 'ours' ? null : `${rec.name} exited; see ${rec.log}`;

  try {
    // Redis: the one given by REDIS_URL, else our own (durable: its data stays under the state folder).
    let redisUrl: string;
    if (env.REDIS_URL) {
      await drop('redis', 'REDIS_URL is set');
      redisUrl = env.REDIS_URL;
      report('redis', null, maskUrl(redisUrl), 'external');
    } else {
      const rec = live.get('redis');
      if (rec && (await redisAnswers(rec.address))) {
        redisUrl = rec.address;
        report('redis', rec.pid, rec.address, 'adopted');
      } else {
        await drop('redis', 'it runs but does not answer PING');
        const port = st.redisPort && (await portFree(st.redisPort)) ? st.redisPort : await freePort();
        const svc = await startRedis(join(stateDir, 'redis'), { durable: true, port });
        const r = recordOf('redis', svc.pid, svc.url, logFileOf(stateDir, 'redis'));
        await waitFor('redis', () => redisAnswers(r.address), 20_000, gone(r));
        st.redisPort = port;
        redisUrl = r.address;
        started(r, rec !== undefined);
      }
    }
    st.redisUrl = redisUrl;

    // The Docker engine: DOCKER_HOST, else ours if we run one, else the machine's, else start ours.
    let dockerHost: string;
    // Loopback only (the agent's default, on our engine as on any): see container-plan.ts, loopbackOnly.
    const networkMode = env.BAI_AGENT_NETWORK_MODE ?? 'none';
    const ownEngine = live.get('dockerd');
    if (env.DOCKER_HOST) {
      await drop('dockerd', 'DOCKER_HOST is set');
      dockerHost = env.DOCKER_HOST;
      if (!(await dockerAnswers(dockerHost)))
        throw new Error(
          `No Docker engine answers at ${dockerHost} (DOCKER_HOST); start it, then run bai up again.`,
        );
      report('dockerd', null, dockerHost, 'external');
    } else if (ownEngine && (await dockerAnswers(ownEngine.address))) {
      dockerHost = ownEngine.address;
      report('dockerd', ownEngine.pid, dockerHost, 'adopted');
    } else if (!ownEngine && (await dockerAnswers(DEFAULT_DOCKER_HOST))) {
      dockerHost = DEFAULT_DOCKER_HOST;
      report('dockerd', null, dockerHost, 'external');
    } else {
      await drop('dockerd', 'it runs but does not answer on its socket');
      if (process.getuid?.() !== 0 || !which('dockerd')) {
        throw new Error(
          `No Docker engine answers at ${DEFAULT_DOCKER_HOST}. Start one (sudo systemctl start docker, or run dockerd) or set DOCKER_HOST, then run bai up again.`,
        );
      }
      const octet = st.poolOctet ?? poolOctetFor(stateDir);
      const svc = await startDockerd(join(stateDir, 'docker'), { poolOctet: octet });
      const d = recordOf('dockerd', svc.pid, svc.url, logFileOf(stateDir, 'dockerd'));
      st.poolOctet = octet;
      dockerHost = d.address;
      started(d, ownEngine !== undefined);
    }
    st.dockerHost = dockerHost;
    saveState(stateDir, st);
    ensurePythonImage(dockerHost, say);

    // The manager, with the keys of .bai/env when there are some (the same keys at every bai up).
    const envFile = envFileOf(stateDir);
    const old = readEnvFile(envFile);
    const keysCreated = !(old.BACKEND_ACCESS_KEY && old.BACKEND_SECRET_KEY);
    const keys = keysCreated
      ? { accessKey: newAccessKey(), secretKey: newSecret() }
      : { accessKey: old.BACKEND_ACCESS_KEY!, secretKey: old.BACKEND_SECRET_KEY! };
    const database = env.DATABASE_URL
      ? maskUrl(env.DATABASE_URL)
      : `embedded PGlite in ${join(stateDir, 'pgdata')}`;
    st.database = database;
    const common = { ...env, BAI_STATE_DIR: stateDir, REDIS_URL: redisUrl };
    const m0 = live.get('manager');
    if (m0 && (m0.redisUrl !== redisUrl || m0.database !== database))
      await drop('manager', 'its Redis or database changed');
    if (live.has('manager') && !(old.BACKEND_ACCESS_KEY && old.BACKEND_SECRET_KEY))
      await drop('manager', `${envFile} has no keys: restarting it to seed new ones`);
    const m1 = live.get('manager');
    if (m1 && !(await answersWithin(() => managerAnswers(m1.address), 10_000)))
      await drop('manager', `it runs but does not answer on ${m1.address}`);
    let endpoint: string;
    const m2 = live.get('manager');
    if (m2) {
      endpoint = m2.address;
      report('manager', m2.pid, endpoint, 'adopted');
    } else {
      const port = env.BAI_MANAGER_PORT ? Number(env.BAI_MANAGER_PORT) : await pickPort(st.managerPort, 8091);
      const log = logFileOf(stateDir, 'manager');
      const from = sizeOf(log);
      const fd = openSync(log, 'a');
      const pid = launch(process.execPath, [BIN, 'manager'], fd, {
        ...common,
        BAI_MANAGER_PORT: String(port),
        // The local stack's callbacks go to the developer's own machine: loopback is allowed here.
        BAI_CALLBACK_ALLOW: env.BAI_CALLBACK_ALLOW ?? '127.0.0.0/8,::1,localhost',
        BAI_SEED_ACCESS_KEY: keys.accessKey,
        BAI_SEED_SECRET_KEY: keys.secretKey,
      });
      closeSync(fd);
      const rec = { ...recordOf('manager', pid, `http://127.0.0.1:${port}`, log), redisUrl, database };
      put(rec);
      startedNow.push(rec);
      await waitFor(
        'the manager',
        async () => logSince(log, from).includes('{"ready":true') && managerAnswers(rec.address),
        120_000,
        gone(rec),
      );
      st.managerPort = port;
      endpoint = rec.address;
      startedNow.pop();
      started(rec, m0 !== undefined);
    }
    st.endpoint = endpoint;
    saveState(stateDir, st);
    writeEnvFile(envFile, {
      BACKEND_ENDPOINT: endpoint,
      BACKEND_ACCESS_KEY: keys.accessKey,
      BACKEND_SECRET_KEY: keys.secretKey,
    });

    // One agent. Up means ready to run: the agent has joined.
    const agentId = env.BAI_AGENT_ID ?? 'local';
    const a0 = live.get('agent');
    if (a0 && (a0.redisUrl !== redisUrl || a0.dockerHost !== dockerHost || a0.address !== agentId))
      await drop('agent', 'its Redis, Docker engine or id changed');
    const a1 = live.get('agent');
    if (a1 && !(await answersWithin(() => agentAnswers(endpoint, keys, agentId), 20_000)))
      await drop('agent', 'it runs but the manager does not list it ALIVE');
    const a2 = live.get('agent');
    if (a2) {
      report('agent', a2.pid, agentId, 'adopted');
    } else {
      const log = logFileOf(stateDir, 'agent');
      const from = sizeOf(log);
      const fd = openSync(log, 'a');
      const pid = launch(process.execPath, [BIN, 'agent'], fd, {
        ...common,
        DOCKER_HOST: dockerHost,
        BAI_AGENT_ID: agentId,
        BAI_AGENT_NETWORK_MODE: networkMode,
      });
      closeSync(fd);
      const rec = { ...recordOf('agent', pid, agentId, log), redisUrl, dockerHost };
      put(rec);
      startedNow.push(rec);
      await waitFor('the agent', () => logSince(log, from).includes('{"ready":true}'), 90_000, gone(rec));
      // Ready is not yet joined: the manager finds a new agent's reports queue by its heartbeat
      // key (a periodic scan), then applies its agent-started report. bai status (and a run)
      // need the manager to list it ALIVE, so up returns only then.
      await waitFor(
        'the manager to list the agent ALIVE',
        () => agentAnswers(endpoint, keys, agentId),
        60_000,
        gone(rec),
      );
      startedNow.pop();
      started(rec, a0 !== undefined);
    }
    return {
      endpoint,
      ...keys,
      dockerHost,
      parts: reports,
      alreadyUp: reports.every((r) => r.action === 'adopted' || r.action === 'external'),
      keysCreated,
    };
  } catch (err) {
    // Undo only what this bai up started; what it adopted keeps running.
    for (const rec of startedNow.reverse()) {
      await stopPart(rec);
      st.parts = st.parts.filter((p) => p.name !== rec.name);
    }
    saveState(stateDir, st);
    throw err;
  }
}

async function answersWithin(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  try {
    await waitFor('an answer', check, ms);
    return true;
  } catch {
    // Expected: waitFor timed out: the part does not answer within `ms`.
    return false;
  }
}

export { stackDown, stackReset, STATE_ENTRIES, type DownResult } from './stack-down.js';
export {
  agentAnswers,
  listAgents,
  loadState,
  lockStack,
  logFileOf,
  statePathOf,
  stopPart,
  verdictOf,
} from './stack-records.js';
