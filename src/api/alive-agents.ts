import { BaiError } from '../domain/errors.js';
import type { CatalogStore } from '../persistence/catalog-store.js';
import type { AgentRow } from '../persistence/rows.js';

/**
 * The ALIVE agents of a scaling group, for a create's "could this session ever fit" check: one
 * read shared by the creates of the next `ttlMs` (default 1 s; a read under way is joined), so a
 * burst of submits costs one query, not one each. Only a positive answer may come from the
 * memo: a create the remembered agents would refuse asks again with `fresh` (a new agent, or a
 * larger one, is seen at once). The staleness is an agent that went away within the last
 * second: its session is accepted and waits PENDING, as one submitted just before would.
 */
export class AliveAgents {
  private readonly memo = new Map<string, { at: number; rows: Promise<AgentRow[]> }>();

  constructor(
    private readonly read: (scalingGroup: string) => Promise<AgentRow[]>,
    private readonly ttlMs = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(scalingGroup: string, fresh = false): Promise<AgentRow[]> {
    const hit = this.memo.get(scalingGroup);
    if (!fresh && hit && this.now() - hit.at < this.ttlMs) return hit.rows;
    const entry = { at: this.now(), rows: this.read(scalingGroup) };
    this.memo.set(scalingGroup, entry);
    // A failed read is not remembered: the next create reads again.
    entry.rows.catch(() => {
      if (this.memo.get(scalingGroup) === entry) this.memo.delete(scalingGroup);
    });
    return entry.rows;
  }
}

/**
 * `admit` (the create's checks against the agents) on the group's ALIVE agents: remembered ones
 * first, and when they refuse the request, fresh ones, so only an acceptance comes from the memo.
 * Without a memo, each create reads them.
 */
export async function admitOnAgents<T>(
  deps: { aliveAgents?: AliveAgents; catalog: Pick<CatalogStore, 'aliveAgents'> },
  scalingGroup: string,
  admit: (alive: AgentRow[]) => T,
): Promise<T> {
  const { aliveAgents, catalog } = deps;
  if (!aliveAgents) return admit(await catalog.aliveAgents(scalingGroup));
  try {
    return admit(await aliveAgents.get(scalingGroup));
  } catch (err) {
    // Refused (a BaiError) by remembered agents: a new or larger agent may have come since.
    if (!(err instanceof BaiError)) throw err;
    return admit(await aliveAgents.get(scalingGroup, true));
  }
}
