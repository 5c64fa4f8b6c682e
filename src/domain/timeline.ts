import { isSessionStatus, type SessionStatus } from './status.js';

/** One status a session held, from `start` to `end` (ms since the epoch), as a share of the whole. */
export interface TimelineSegment {
  status: SessionStatus;
  start: number;
  end: number;
  /** Where the segment starts and how wide it is, in percent of the timeline. */
  offsetPct: number;
  widthPct: number;
}

/**
 * A session's status history as bars over time, from its status events (each says which status
 * the session entered, and when). Events out of order are sorted; repeated statuses in a row
 * (a result event after TERMINATED) merge; the last status lasts until `now` unless it is an
 * end (TERMINATED, CANCELLED), which is drawn as a thin mark.
 */
export function timelineOf(events: { status: unknown; at: Date }[], now: Date): TimelineSegment[] {
  const points = events
    .filter((e): e is { status: SessionStatus; at: Date } => isSessionStatus(e.status))
    .map((e) => ({ status: e.status, at: e.at.getTime() }))
    .sort((a, b) => a.at - b.at);
  const merged: { status: SessionStatus; at: number }[] = [];
  for (const p of points) if (merged.at(-1)?.status !== p.status) merged.push(p);
  if (merged.length === 0) return [];
  const first = merged[0]!.at;
  const last = merged.at(-1)!;
  const ended = last.status === 'TERMINATED' || last.status === 'CANCELLED';
  const stop = ended ? last.at : Math.max(now.getTime(), last.at);
  const span = Math.max(stop - first, 1);
  return merged.map((p, i) => {
    const end = i + 1 < merged.length ? merged[i + 1]!.at : stop;
    const offsetPct = ((p.at - first) / span) * 100;
    const widthPct = ((end - p.at) / span) * 100;
    return { status: p.status, start: p.at, end, offsetPct: round(offsetPct), widthPct: round(widthPct) };
  });
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
