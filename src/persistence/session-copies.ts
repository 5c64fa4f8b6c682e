import { randomUUID } from 'node:crypto';
import type { Db } from './db.js';
import { toJsonColumns } from './json-columns.js';
import type { KernelRow, SessionRow } from './rows.js';

/**
 * `n` copies of a session one of the API's requests made (`template`): its columns, each with
 * its own id and those `each` gives it (its `id` too, if given), its kernels copied, and rows
 * depending on `dependsOn`; inserted 250 a statement. The fastest faithful way to have
 * thousands of sessions waiting, or a queue of a chosen shape, without loading the machine for
 * a minute: for the tests and the `backlog` bench, as history-seed.ts is for history. Returns
 * the copies' ids, in order.
 */
export async function insertCopies(
  db: Db,
  template: string,
  n: number,
  each: (template: SessionRow, i: number) => Partial<SessionRow> = () => ({}),
  dependsOn: string[] = [],
): Promise<string[]> {
  const row = (await db('sessions').where({ id: template }).first()) as SessionRow;
  const kernels = (await db('kernels').where({ session_id: template })) as KernelRow[];
  // Not copied: what the dependency triggers and the survey keep (a copy has no dependency rows
  // but those given, and no pass has looked at it yet).
  const fresh = {
    has_dependencies: false,
    has_dependents: false,
    deps_blocked: false,
    deps_met: false,
    deps_epoch: 0,
    due_later: false,
  };
  const rows = Array.from({ length: n }, (_, i) => ({ ...row, ...fresh, id: randomUUID(), ...each(row, i) }));
  for (let i = 0; i < n; i += 250) {
    const chunk = rows.slice(i, i + 250);
    await db.transaction(async (trx) => {
      await trx('sessions').insert(chunk.map((s) => toJsonColumns(s)));
      await trx('kernels').insert(
        chunk.flatMap((s) => kernels.map((k) => toJsonColumns({ ...k, id: randomUUID(), session_id: s.id }))),
      );
      if (dependsOn.length > 0)
        await trx('session_dependencies').insert(
          chunk.flatMap((s) => dependsOn.map((d) => ({ session_id: s.id, depends_on: d }))),
        );
    });
  }
  return rows.map((s) => s.id);
}
