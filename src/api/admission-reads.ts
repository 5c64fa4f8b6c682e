import type { AdmissionAgent, AdmissionFacts } from '../persistence/admission-store.js';
import { GroupCommit } from './group-commit.js';

/** What one create asks: its scaling group's alive agents and, if its policy limits them, its keypair's pending sessions. */
export interface AdmissionAsk {
  scalingGroup: string;
  /** null: the policy sets no pending limit, so the count is not read. */
  accessKey: string | null;
}

export interface AdmissionAnswer {
  agents: AdmissionAgent[];
  /** null when not asked for. */
  pending: number | null;
}

/**
 * The per-request reads of admission, batched as the inserts are (group-commit.ts): a create
 * whose ask finds no read under way is read at once (after the current event-loop turn);
 * asks arriving while a read is under way go together in the next one, ONE statement for all of
 * them. Every ask is answered by a read that began after it was made, so what it sees is as
 * current as a read of its own: nothing is cached. A failed batch is read again ask by ask.
 */
export class AdmissionReads {
  private readonly batch: GroupCommit<AdmissionAsk, AdmissionAnswer>;

  constructor(
    read: (scalingGroups: readonly string[], accessKeys: readonly string[]) => Promise<AdmissionFacts>,
    maxBatch = 500,
  ) {
    const answer = async (asks: AdmissionAsk[]) => {
      const groups = [...new Set(asks.map((a) => a.scalingGroup))];
      const keys = [...new Set(asks.flatMap((a) => (a.accessKey === null ? [] : [a.accessKey])))];
      const facts = await read(groups, keys);
      return asks.map((a) => answerOf(a, facts));
    };
    this.batch = new GroupCommit<AdmissionAsk, AdmissionAnswer>({
      maxBatch,
      commit: answer,
      single: async (ask) => (await answer([ask]))[0]!,
    });
  }

  read(ask: AdmissionAsk): Promise<AdmissionAnswer> {
    return this.batch.submit(ask);
  }

  /** Batches read since start and the asks they answered. */
  stats(): { reads: number; asks: number } {
    return { reads: this.batch.groups, asks: this.batch.items };
  }
}

/** One ask's share of a batch's facts (pure). */
export function answerOf(ask: AdmissionAsk, facts: AdmissionFacts): AdmissionAnswer {
  return {
    agents: facts.agents.get(ask.scalingGroup) ?? [],
    pending: ask.accessKey === null ? null : (facts.pending.get(ask.accessKey) ?? 0),
  };
}
