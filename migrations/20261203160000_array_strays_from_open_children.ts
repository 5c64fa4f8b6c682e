import type { Knex } from 'knex';

/**
 * The settle step's read (array_parents_to_settle, migration 20261203080000) found the ended
 * arrays that still have a PENDING child (`stray`: a child sent back for a retry as its array was
 * cancelled) by reading every ended array's parent, each with a probe for such a child: a cost
 * that grew with the arrays in the history, paid every pass while an array is open and every
 * ten seconds otherwise (docs/benchmarks.md, round twenty-seven).
 *
 * It now starts from the children: the arrays with a child not over are read from
 * sessions_array_open_idx (the children not over), one index descent per array (a loose index
 * scan: each step asks for the first parent after the last, in the order that index alone
 * gives, with sorting off), and only those whose parent ended are probed for a PENDING child.
 * The arrays whose children all ended, however many, are not read. The first part (the parents
 * not over) is as it was.
 */
export async function up(knex: Knex): Promise<void> {
  await settleFunction(knex, 'open');
}

export async function down(knex: Knex): Promise<void> {
  await settleFunction(knex, 'ended');
}

const some = (where: string, order: string) =>
  `(SELECT true FROM sessions c WHERE c.array_parent_id = p.id AND ${where} ORDER BY ${order} LIMIT 1) IS NOT NULL`;
const NOT_OVER = `c.status NOT IN ('TERMINATED', 'CANCELLED')`;

/**
 * array_parents_to_settle with its strays found from `from`: 'open', the arrays with a child
 * not over; 'ended', every ended parent (migration 20261203080000).
 */
async function settleFunction(knex: Knex, from: 'open' | 'ended'): Promise<void> {
  const withOpen =
    from === 'open'
      ? `WITH RECURSIVE k(id) AS (
          (SELECT c.array_parent_id FROM sessions c
            WHERE c.array_parent_id IS NOT NULL AND ${NOT_OVER}
            ORDER BY c.array_parent_id, c.status LIMIT 1)
          UNION ALL
          SELECT (SELECT c.array_parent_id FROM sessions c
                   WHERE c.array_parent_id IS NOT NULL AND ${NOT_OVER} AND c.array_parent_id > k.id
                   ORDER BY c.array_parent_id, c.status LIMIT 1)
            FROM k WHERE k.id IS NOT NULL)`
      : '';
  const ended =
    from === 'open'
      ? `SELECT p.id, p.status::text AS status, ${some(`c.status = 'PENDING'`, 'c.id')} AS stray
           FROM k JOIN sessions p ON p.id = k.id
          WHERE k.id IS NOT NULL AND p.status IN ('TERMINATED', 'CANCELLED')`
      : `SELECT p.id, p.status::text AS status, ${some(`c.status = 'PENDING'`, 'c.id')} AS stray
           FROM sessions p
          WHERE p.array_size IS NOT NULL AND p.status IN ('TERMINATED', 'CANCELLED')
          ORDER BY p.status OFFSET 0`;
  await knex.raw(`
    CREATE OR REPLACE FUNCTION array_parents_to_settle()
      RETURNS TABLE (parent_id uuid, parent_status text, open int, ran boolean,
                     failed_index int, failed_exit int, stray boolean)
      LANGUAGE plpgsql STABLE SET enable_sort = off AS $$
    BEGIN
      RETURN QUERY
      ${withOpen}
      SELECT o.id, o.status, o.open, o.ran, f.array_index, f.exit_code, o.stray
        FROM (SELECT p.id, p.status::text AS status,
                     (${some(NOT_OVER, 'c.status, c.id')})::int AS open,
                     p.status = 'PENDING' AND ${some(
                       `(c.status <> 'PENDING' OR c.attempt > 1) AND (c.status_history -> 'RUNNING') IS NOT NULL`,
                       'c.attempt',
                     )} AS ran,
                     p.status = 'TERMINATING' AND ${some(`c.status = 'PENDING'`, 'c.id')} AS stray
                FROM sessions p
               WHERE p.array_size IS NOT NULL AND p.status IN ('PENDING', 'RUNNING', 'TERMINATING')
               ORDER BY p.status OFFSET 0) o
        LEFT JOIN LATERAL (
          SELECT c.array_index, c.exit_code FROM sessions c
           WHERE o.open = 0 AND c.array_parent_id = o.id AND c.status IN ('TERMINATED', 'CANCELLED')
             AND c.result <> 'SUCCESS'
           ORDER BY c.array_index LIMIT 1) f ON true
      UNION ALL
      SELECT e.id, e.status, 0, false, NULL::int, NULL::int, true
        FROM (${ended}) e
       WHERE e.stray;
    END $$`);
}
