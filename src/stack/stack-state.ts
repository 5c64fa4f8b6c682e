import { sameProcess, type ProcessIdentity } from './process-identity.js';

/**
 * The record `bai up` keeps in <state folder>/stack.json: what it started (each part with the
 * identity of its process), where each part answers, and the ports and address pool to reuse on
 * the next `bai up` so that the endpoint in .bai/env stays the same. Pure: reading and writing
 * the file is local-stack.ts's job.
 */
export const PART_NAMES = ['redis', 'dockerd', 'manager', 'agent'] as const;
export type PartName = (typeof PART_NAMES)[number];

export interface PartRecord {
  name: PartName;
  pid: number;
  /** /proc/<pid>/stat field 22 at launch; absent in records of an older bai (then the command line decides). */
  startTime?: number;
  bootId?: string;
  /** Where it answers: a URL or a socket. */
  address: string;
  log: string;
  /** What it was started against, so a changed dependency restarts it. */
  redisUrl?: string;
  dockerHost?: string;
  database?: string;
}

export interface StackState {
  version: 2;
  /** The manager's URL ('' until it first answered). */
  endpoint: string;
  /** The Redis and Docker engine in use (started by bai or given by REDIS_URL / DOCKER_HOST). */
  redisUrl: string | null;
  dockerHost: string | null;
  /** Where the database is, for display (a masked URL or the embedded data folder). */
  database: string | null;
  managerPort: number | null;
  redisPort: number | null;
  poolOctet: number | null;
  parts: PartRecord[];
}

export function emptyState(): StackState {
  return {
    version: 2,
    endpoint: '',
    redisUrl: null,
    dockerHost: null,
    database: null,
    managerPort: null,
    redisPort: null,
    poolOctet: null,
    parts: [],
  };
}

const isName = (v: unknown): v is PartName => PART_NAMES.includes(v as PartName);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * Reads stack.json leniently: a missing or garbled file is an empty state, and the first format
 * (`{endpoint, pids: [{name, pid}], dockerHost}`) becomes records without a start time.
 */
export function parseStackState(text: string | null): StackState {
  const st = emptyState();
  if (text === null) return st;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Expected: a garbled stack.json (a write cut off) is an empty record: parts are found anew.
    return st;
  }
  if (typeof raw !== 'object' || raw === null) return st;
  st.endpoint = str(raw.endpoint) ?? '';
  st.redisUrl = str(raw.redisUrl);
  st.dockerHost = str(raw.dockerHost) || null;
  st.database = str(raw.database);
  st.managerPort = num(raw.managerPort);
  st.redisPort = num(raw.redisPort);
  st.poolOctet = num(raw.poolOctet);
  const list = Array.isArray(raw.parts) ? raw.parts : Array.isArray(raw.pids) ? raw.pids : [];
  for (const p of list as Record<string, unknown>[]) {
    const pid = num(p?.pid);
    if (!p || !isName(p.name) || pid === null) continue;
    const rec: PartRecord = { name: p.name, pid, address: str(p.address) ?? '', log: str(p.log) ?? '' };
    if (typeof p.startTime === 'number' && Number.isSafeInteger(p.startTime)) rec.startTime = p.startTime;
    if (typeof p.bootId === 'string') rec.bootId = p.bootId;
    for (const k of ['redisUrl', 'dockerHost', 'database'] as const) {
      const v = str(p[k]);
      if (v !== null) rec[k] = v;
    }
    st.parts = st.parts.filter((x) => x.name !== rec.name).concat(rec);
  }
  return st;
}

export function serializeStackState(st: StackState): string {
  return `${JSON.stringify(st, null, 2)}\n`;
}

/**
 * What a recorded part is now: `ours` (the very process that was started), `gone` (no process
 * has that pid), or `stranger` (the pid now belongs to another process: never signal it).
 */
export type RecordVerdict = 'ours' | 'gone' | 'stranger';

export function judgeRecord(
  rec: PartRecord,
  now: ProcessIdentity | null,
  commandLine: string[] | null,
): RecordVerdict {
  if (now === null) return 'gone';
  if (rec.startTime !== undefined && rec.bootId !== undefined) {
    return sameProcess({ pid: rec.pid, startTime: rec.startTime, bootId: rec.bootId }, now)
      ? 'ours'
      : 'stranger';
  }
  // A record of an older bai has no start time: the command line must be the part's own.
  return commandLine !== null && commandLineIsPart(rec.name, commandLine) ? 'ours' : 'stranger';
}

/** Whether a command line is the one `bai up` launches for this part. */
export function commandLineIsPart(name: PartName, words: string[]): boolean {
  const base = (w: string | undefined) => (w ?? '').split('/').pop() ?? '';
  switch (name) {
    case 'redis': // Redis rewrites its title to "redis-server 127.0.0.1:PORT"
      return base(words[0]?.split(' ')[0]) === 'redis-server';
    case 'dockerd':
      return base(words[0]) === 'dockerd';
    case 'manager':
    case 'agent':
      return words.some((w) => base(w) === 'bai.js') && words.includes(name);
  }
}

/** A second octet for the engine's 10.x address pool, the same for a folder at each `bai up`. */
export function poolOctetFor(stateDir: string): number {
  let h = 0;
  for (const c of stateDir) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return 100 + (h % 50); // 100–149: clear of the test engines' pools (150–189, 200–249)
}

/** A database URL fit to print: the password masked. */
export function maskUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}
