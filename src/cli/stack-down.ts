import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../stack/process-util.js';
import type { PartName } from '../stack/stack-state.js';
import { lockStack, loadState, saveState, statePathOf, stopPart, verdictOf } from './stack-records.js';

/** `bai down` and `bai reset`: stop only what is provably ours, then (reset) remove the state. */

export interface DownResult {
  stopped: { name: PartName; pid: number }[];
  cleared: { name: PartName; pid: number; reason: 'ended' | 'another process' }[];
}

/**
 * Stops what `bai up` started (agent first: its containers stay for re-adoption), each only
 * while its pid is still the process that was started. Records of ended processes, or of pids
 * now used by another process, are cleared without a signal. The data stays for the next up.
 */
export async function stackDown(stateDir: string, say: (s: string) => void): Promise<DownResult | null> {
  if (!existsSync(statePathOf(stateDir))) return null;
  const unlock = lockStack(stateDir);
  try {
    return await downLocked(stateDir, say);
  } finally {
    unlock();
  }
}

export async function downLocked(stateDir: string, say: (s: string) => void): Promise<DownResult | null> {
  const st = loadState(stateDir);
  if (st.parts.length === 0) return null;
  const out: DownResult = { stopped: [], cleared: [] };
  for (const name of ['agent', 'manager', 'redis', 'dockerd'] as const) {
    for (const rec of st.parts.filter((p) => p.name === name)) {
      const v = verdictOf(rec);
      if (v === 'ours' && (await stopPart(rec))) {
        out.stopped.push({ name, pid: rec.pid });
        say(`stopped ${name} (pid ${rec.pid})`);
      } else if (v === 'stranger') {
        out.cleared.push({ name, pid: rec.pid, reason: 'another process' });
        say(`${name}: pid ${rec.pid} now belongs to another process; record cleared, not signalled`);
      } else {
        out.cleared.push({ name, pid: rec.pid, reason: 'ended' });
        say(`${name} was not running (pid ${rec.pid} ended); record cleared`);
      }
    }
  }
  st.parts = [];
  saveState(stateDir, st);
  return out;
}

/** What `bai reset` (and `bai up --fresh`) removes from the state folder, with what it holds. */
export const STATE_ENTRIES: [string, string][] = [
  ['pgdata', 'the embedded database: sessions, their history, keypairs'],
  ['env', 'the admin keys the CLI reads'],
  ['redis', "Redis's queues and its log"],
  ['storage', 'session storage'],
  ['docker', "bai's own Docker engine: its images, containers and log"],
  ['manager.log', "the manager's log"],
  ['agent.log', "the agent's log"],
  ['stack.json', 'the record of what bai up started'],
];

/** Stops the stack, then removes its state on purpose, saying each thing it removes. */
export async function stackReset(stateDir: string, say: (s: string) => void): Promise<string[]> {
  const unlock = lockStack(stateDir);
  try {
    return await resetLocked(stateDir, say);
  } finally {
    unlock();
  }
}

export async function resetLocked(stateDir: string, say: (s: string) => void): Promise<string[]> {
  await downLocked(stateDir, say);
  const removed: string[] = [];
  for (const [entry, what] of STATE_ENTRIES) {
    const p = join(stateDir, entry);
    if (!existsSync(p)) continue;
    say(`removing ${p} (${what})`);
    if (entry === 'docker') unmountUnder(p);
    rmSync(p, { recursive: true, force: true });
    removed.push(p);
  }
  if (removed.length === 0) say(`nothing to remove in ${stateDir}`);
  return removed;
}

/** Unmounts what a stopped engine may have left mounted under `dir` (deepest first). */
function unmountUnder(dir: string): void {
  let mounts: string[];
  try {
    mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1] ?? '')
      .filter((m) => m.startsWith(`${dir}/`))
      .sort()
      .reverse();
  } catch {
    // Expected: no /proc/mounts (not Linux): nothing of ours can be mounted.
    return;
  }
  for (const m of mounts) {
    try {
      run('umount', ['-l', m]);
    } catch {
      // Expected: unmounted meanwhile (the engine's own shutdown unmounts its layers).
    }
  }
}
