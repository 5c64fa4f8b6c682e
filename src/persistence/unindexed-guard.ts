/**
 * A row's guard (its status, agent, attempt, ...) that PostgreSQL cannot use to choose an
 * index: `(…) IS TRUE` passes the same rows in a WHERE (NULL fails both ways) but matches no
 * index, so a statement that also says `id = ?` reads its one row through the primary key.
 * Without it the planner, told by the statistics that live statuses or an agent's id are rare,
 * read sessions through sessions_status_idx or sessions_agent_idx and filtered every row of
 * that status or of the agent's history (docs/benchmarks.md, round ten).
 */
export function unindexedGuard(conditions: string): string {
  return `(${conditions}) IS TRUE`;
}
