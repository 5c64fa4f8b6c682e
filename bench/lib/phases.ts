import type { BenchStack } from './stack.js';
import { summarize, type Summary } from './stats.js';

/** Each session's status_history: status → when (epoch ms). */
export type History = Record<string, number>;

/** The status_history of each of these sessions, read once for phases and slotTurnaround. */
export async function readHistories(stack: BenchStack, ids: string[]): Promise<History[]> {
  const rows = (await stack.db('sessions').whereIn('id', ids).select('status_history')) as {
    status_history: Record<string, string>;
  }[];
  return rows.map((r) =>
    Object.fromEntries(Object.entries(r.status_history).map(([k, v]) => [k, Date.parse(v)])),
  );
}

/** Where a session's time goes: the gaps between the transitions of its status_history. */
export function phases(histories: readonly History[]): Record<string, Summary> {
  const gaps = new Map<string, number[]>();
  for (const h of histories) {
    const steps = Object.entries(h).sort((a, b) => a[1] - b[1]);
    for (let i = 1; i < steps.length; i++) {
      const key = `${steps[i - 1]![0]}→${steps[i]![0]}`;
      gaps.set(key, [...(gaps.get(key) ?? []), steps[i]![1] - steps[i - 1]![1]]);
    }
  }
  return Object.fromEntries([...gaps].map(([k, v]) => [k, summarize(v)]));
}

/**
 * In a drain through `slots` slots with a queue that never runs dry: how long a freed slot took
 * to be placed on again (the k-th session to be SCHEDULED after the first `slots` took the slot
 * the (k − slots)-th TERMINATED freed), and to run again (the same for RUNNING).
 */
export function slotTurnaround(
  h: readonly History[],
  slots: number,
): { scheduled: Summary; running: Summary } {
  const ended = h.map((x) => x.TERMINATED ?? NaN).sort((a, b) => a - b);
  const lag = (status: string) => {
    const at = h.map((x) => x[status] ?? NaN).sort((a, b) => a - b);
    return summarize(at.slice(slots).map((t, i) => t - ended[i]!));
  };
  return { scheduled: lag('SCHEDULED'), running: lag('RUNNING') };
}
