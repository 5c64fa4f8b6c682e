import { entryField } from './guarded-stream.js';
import type { Report } from './payloads.js';

/**
 * How a report is written into an agent's reports stream, and read back: pure, no Redis here
 * (report-stream.ts does the I/O). An entry holds three fields: `n` the report's name, `d` its
 * data as JSON, `i` the id the agent gave it (derived from what it says, for dedup).
 */

/** The consumer group every manager reads the agents' reports streams in. */
export const REPORTS_GROUP = 'managers';

/** One entry of a reports stream as read: its stream id, the report, and the report's own id. */
export interface ReportEntry {
  entryId: string;
  report: Report;
  reportId: string;
}

/** An entry that cannot be read as a report (it is acknowledged and logged, never applied). */
export interface MalformedEntry {
  entryId: string;
  malformed: string;
}

const NAMES = new Set(['agent-started', 'session-progress', 'kernel-exited', 'session-failed']);

/** The field/value list written with XADD. */
export function entryFields(report: Report, reportId: string): string[] {
  return ['n', report.name, 'd', JSON.stringify(report.data), 'i', reportId];
}

/** Reads one entry's field/value list back (as XREADGROUP/XAUTOCLAIM return it). */
export function parseEntry(entryId: string, fields: string[] | null): ReportEntry | MalformedEntry {
  const get = (k: string) => entryField(fields, k);
  const name = get('n');
  const json = get('d');
  if (!name || !NAMES.has(name)) return { entryId, malformed: `unknown report name "${name ?? ''}"` };
  let data: unknown;
  try {
    data = JSON.parse(json ?? '');
  } catch {
    return { entryId, malformed: 'data is not JSON' };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    return { entryId, malformed: 'data is not an object' };
  return { entryId, report: { name, data } as Report, reportId: get('i') ?? '' };
}

/**
 * The entries of an XREADGROUP reply, by stream key. A null reply (the block timed out) is no
 * entries; an entry whose fields are null (deleted while pending) is left out.
 */
export function parseReadReply(
  reply: [string, [string, string[] | null][]][] | null,
): Map<string, (ReportEntry | MalformedEntry)[]> {
  const out = new Map<string, (ReportEntry | MalformedEntry)[]>();
  for (const [key, entries] of reply ?? []) {
    const list = entries.filter(([, f]) => f !== null).map(([id, f]) => parseEntry(id, f));
    if (list.length > 0) out.set(key, list);
  }
  return out;
}

/**
 * How long a report whose handling failed `failures` times in a row waits before this manager
 * tries it again: 0.5 s doubling to 30 s. The entry stays pending meanwhile (nothing is given
 * up): another manager may take it once it has been idle for the claim time.
 */
export function retryDelayMs(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(30_000, 500 * 2 ** Math.min(failures - 1, 10));
}

/** Whether a Redis error says the consumer group (or its stream) is gone, e.g. after a flush. */
export function isNoGroup(err: unknown): boolean {
  return /NOGROUP/.test(String((err as Error)?.message ?? err));
}
