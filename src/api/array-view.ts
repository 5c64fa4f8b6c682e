import { formatArraySpec } from '../domain/array-spec.js';
import { InvalidRequest } from '../domain/errors.js';
import type { SessionWire } from '../domain/session-wire.js';
import type { ArrayStore } from '../persistence/array-store.js';
import type { SessionRow } from '../persistence/rows.js';

/** Children per page of a parent's info, unless `children_limit` says otherwise (at most MAX). */
export const CHILDREN_PAGE = 100;
const MAX_CHILDREN_PAGE = 1000;

function pageParam(raw: string | undefined, field: string, dflt: number, max: number): number {
  if (raw === undefined || raw === '') return dflt;
  if (!/^\d+$/.test(raw) || Number(raw) > max)
    throw new InvalidRequest(`${field} must be an integer from 0 to ${max}.`);
  return Number(raw);
}

/**
 * What a session's info adds for array jobs: a parent's `array` (counts by status and a page
 * of children, `children_limit` / `children_offset`), a child's `arrayParent`; nothing else.
 */
export async function arrayInfo(
  arrays: ArrayStore,
  s: SessionRow,
  query: (name: string) => string | undefined,
): Promise<Pick<SessionWire, 'array' | 'arrayParent'>> {
  if (s.array_size !== null) {
    const limit = Math.max(
      1,
      pageParam(query('children_limit'), 'children_limit', CHILDREN_PAGE, MAX_CHILDREN_PAGE),
    );
    const offset = pageParam(query('children_offset'), 'children_offset', 0, Number.MAX_SAFE_INTEGER);
    const [{ counts, start }, rows] = await Promise.all([
      arrays.counts(s.id),
      arrays.children(s.id, limit, offset),
    ]);
    const spec = { start, size: s.array_size, parallelism: s.array_parallelism };
    return {
      array: {
        ...spec,
        spec: formatArraySpec(spec),
        counts,
        children: {
          items: rows.map((c) => ({
            index: c.array_index,
            sessionId: c.id,
            sessionName: c.name,
            status: c.status,
            result: c.result,
            exitCode: c.exit_code,
          })),
          total: s.array_size,
          limit,
          offset,
        },
      },
    };
  }
  if (s.array_parent_id !== null) {
    const p = await arrays.parentOf(s.array_parent_id);
    return {
      arrayParent: {
        sessionId: s.array_parent_id,
        sessionName: p?.name ?? '',
        index: s.array_index ?? 0,
        size: p?.array_size ?? 0,
      },
    };
  }
  return {};
}
