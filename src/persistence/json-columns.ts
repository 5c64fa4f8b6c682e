/** Columns of sessions and kernels stored as jsonb. */
const JSON_COLUMNS = new Set([
  'status_data',
  'status_history',
  'environ',
  'mounts',
  'requested_slots',
  'resource_opts',
  'retry_policy',
  'attempts',
  'occupied_slots',
]);

/**
 * knex sends JS arrays as PostgreSQL arrays; jsonb columns get JSON text. A value that is text
 * already is left as it is, so a row may go through this twice (the stores apply it to what
 * they write, and a caller may have applied it first).
 */
export function toJsonColumns<T extends object>(row: T): T {
  const out = { ...row } as Record<string, unknown>;
  for (const [k, v] of Object.entries(out))
    if (JSON_COLUMNS.has(k) && v !== null && v !== undefined && typeof v !== 'string')
      out[k] = JSON.stringify(v);
  return out as T;
}
