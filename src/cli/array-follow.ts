import type { ArrayChildWire, SessionWire } from '../domain/session-wire.js';
import type { ApiClient } from './client.js';
import { LogFollower } from './log-follower.js';
import { sleep } from './session-wait.js';
import { setLongTimeout } from '../workers/long-timer.js';

const FINAL = new Set(['TERMINATED', 'CANCELLED']);
/** Children followed at once (each polls its status and output). */
export const ARRAY_FOLLOWERS = 8;
const PAGE = 1000;

/** Splits output into lines and writes each with `prefix`; `flush` ends a last partial line. */
export class LinePrefixer {
  private rest = '';
  constructor(
    private readonly prefix: string,
    private readonly write: (text: string) => void | Promise<void>,
  ) {}

  async push(text: string): Promise<void> {
    const parts = (this.rest + text).split('\n');
    this.rest = parts.pop() ?? '';
    if (parts.length > 0) await this.write(parts.map((l) => `${this.prefix}${l}\n`).join(''));
  }

  async flush(): Promise<void> {
    if (this.rest !== '') await this.write(`${this.prefix}${this.rest}\n`);
    this.rest = '';
  }
}

export interface ArrayFollowOptions {
  query?: Record<string, string | undefined>;
  /** Where the children's prefixed output goes. */
  write: (text: string) => void | Promise<void>;
  /** Notes on output not shown. */
  note: (text: string) => void;
  /** Stops following (resolves null). */
  signal: AbortSignal;
  /** Stops following after this long (resolves null). */
  timeoutMs?: number;
  followers?: number;
  pollMs?: number;
}

/**
 * Follows an array job to its end: every child's output, each line prefixed by its index
 * (`[7] line`), with at most `followers` children followed at once in index order (the order
 * they are placed in); a child that ended before its turn has its stored output printed.
 * Resolves with the parent's final info, or null when `signal` aborted first.
 */
export async function followArray(
  client: ApiClient,
  parentId: string,
  opts: ArrayFollowOptions,
): Promise<SessionWire | null> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  opts.signal.addEventListener('abort', onAbort, { once: true });
  const timer = opts.timeoutMs ? setLongTimeout(onAbort, opts.timeoutMs) : null;
  try {
    return await follow(client, parentId, { ...opts, signal: stop.signal });
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
    timer?.clear();
  }
}

async function follow(
  client: ApiClient,
  parentId: string,
  opts: ArrayFollowOptions,
): Promise<SessionWire | null> {
  const { query = {}, signal } = opts;
  const pollMs = opts.pollMs ?? 500;
  const children: ArrayChildWire[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await client.request<SessionWire>('GET', `/session/${parentId}`, undefined, {
      ...query,
      children_limit: String(PAGE),
      children_offset: String(offset),
    });
    const items = page.array?.children.items ?? [];
    children.push(...items);
    if (items.length < PAGE || children.length >= (page.array?.children.total ?? 0)) break;
  }
  let next = 0;
  const worker = async () => {
    while (!signal.aborted && next < children.length) {
      const c = children[next++]!;
      await followChild(client, c, opts, pollMs);
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(opts.followers ?? ARRAY_FOLLOWERS, children.length) }, worker),
  );
  // The parent ends at the manager's next settle step after its last child.
  while (!signal.aborted) {
    const p = await client.request<SessionWire>('GET', `/session/${parentId}`, undefined, {
      ...query,
      children_limit: '1',
    });
    if (FINAL.has(p.status)) return p;
    await sleep(pollMs, signal);
  }
  return null;
}

async function followChild(
  client: ApiClient,
  child: ArrayChildWire,
  opts: ArrayFollowOptions,
  pollMs: number,
): Promise<void> {
  const lines = new LinePrefixer(`[${child.index}] `, opts.write);
  const logs = new LogFollower(
    client,
    child.sessionId,
    (text) => lines.push(text),
    opts.query ?? {},
    (note) => opts.note(`[${child.index}] ${note}`),
  );
  let status = child.status;
  while (!FINAL.has(status)) {
    if (opts.signal.aborted) return;
    if (status !== 'PENDING') await logs.poll();
    await sleep(pollMs, opts.signal);
    status = (await client.request<SessionWire>('GET', `/session/${child.sessionId}`, undefined, opts.query))
      .status;
  }
  await logs.finish();
  await lines.flush();
}
