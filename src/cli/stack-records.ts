import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadClientConfig } from '../config/config.js';
import { commandLineOf, identityOf, sameProcess, type ProcessIdentity } from '../stack/process-identity.js';
import { sleep, stopPid } from '../stack/process-util.js';
import {
  judgeRecord,
  parseStackState,
  serializeStackState,
  type PartName,
  type PartRecord,
  type RecordVerdict,
  type StackState,
} from '../stack/stack-state.js';
import { ApiClient } from './client.js';

/** The local stack's records in the state folder, and proving that a recorded process is still ours. */
export function statePathOf(stateDir: string): string {
  return join(stateDir, 'stack.json');
}

export function loadState(stateDir: string): StackState {
  const p = statePathOf(stateDir);
  return parseStackState(existsSync(p) ? readFileSync(p, 'utf8') : null);
}

export function saveState(stateDir: string, st: StackState): void {
  writeFileSync(statePathOf(stateDir), serializeStackState(st), { mode: 0o600 });
}

export function verdictOf(rec: PartRecord): RecordVerdict {
  return judgeRecord(rec, identityOf(rec.pid), commandLineOf(rec.pid));
}

/** The log file of each part that `bai up` starts. */
export function logFileOf(stateDir: string, name: PartName): string {
  switch (name) {
    case 'manager':
    case 'agent':
      return join(stateDir, `${name}.log`);
    case 'redis':
      return join(stateDir, 'redis', 'redis.log');
    case 'dockerd':
      return join(stateDir, 'docker', 'dockerd.log');
  }
}

/** The agents the manager lists (reading them reads the database), or null when it cannot say. */
export async function listAgents(
  endpoint: string,
  keys: { accessKey: string; secretKey: string },
): Promise<{ id: string; status: string }[] | null> {
  try {
    const client = new ApiClient(
      loadClientConfig({
        BACKEND_ENDPOINT: endpoint,
        BACKEND_ACCESS_KEY: keys.accessKey,
        BACKEND_SECRET_KEY: keys.secretKey,
      }),
    );
    const r = await client.request<{ items: { id: string; status: string }[] }>('GET', '/agents');
    return r.items;
  } catch {
    // Expected: the manager does not answer (or refuses the keys): its agents are unknown.
    return null;
  }
}

/** Whether the agent has joined: the manager lists it ALIVE (its heartbeats arrive). */
export async function agentAnswers(
  endpoint: string,
  keys: { accessKey: string; secretKey: string },
  agentId: string,
): Promise<boolean> {
  const agents = await listAgents(endpoint, keys);
  return agents?.some((a) => a.id === agentId && a.status === 'ALIVE') ?? false;
}

/** One `bai up`, `down` or `reset` at a time per state folder (a lock of a process that ended is taken over). */
export function lockStack(stateDir: string): () => void {
  mkdirSync(stateDir, { recursive: true });
  const file = join(stateDir, 'stack.lock');
  const take = () => {
    const fd = openSync(file, 'wx', 0o600);
    writeFileSync(fd, JSON.stringify(identityOf(process.pid)));
    closeSync(fd);
  };
  try {
    take();
  } catch (err) {
    // Expected: EEXIST, the lock file is there; anything else (EACCES…) is a real failure.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    let holder: ProcessIdentity | null = null;
    try {
      holder = JSON.parse(readFileSync(file, 'utf8')) as ProcessIdentity;
    } catch {
      // Expected: empty or garbled (a writer died mid-write): nobody holds it.
    }
    if (holder?.pid && sameProcess(holder, identityOf(holder.pid)))
      throw new Error(`another bai up, down or reset runs on ${stateDir} (pid ${holder.pid}); let it finish`);
    rmSync(file, { force: true });
    take();
  }
  return () => rmSync(file, { force: true });
}

const GRACE_MS: Record<PartName, number> = { agent: 20_000, manager: 30_000, redis: 10_000, dockerd: 30_000 };

/**
 * Stops a part only while it is provably the process that was started: SIGTERM, then SIGKILL
 * after the grace period; the identity is checked again before each signal.
 */
export async function stopPart(rec: PartRecord): Promise<boolean> {
  if (verdictOf(rec) !== 'ours') return false;
  try {
    process.kill(rec.pid, 'SIGTERM');
  } catch {
    // Expected: ESRCH, it ended between the check and the signal: stopped.
    return true;
  }
  const until = Date.now() + GRACE_MS[rec.name];
  while (Date.now() < until) {
    if (verdictOf(rec) !== 'ours') return true;
    await sleep(50);
  }
  if (verdictOf(rec) === 'ours') await stopPid(rec.pid, 5_000);
  return true;
}
