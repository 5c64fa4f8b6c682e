import { kernelChains, sessionChain, type PhaseStep, type SessionChain } from '../domain/phase-chain.js';
import type { Tx } from './db.js';
import { byClusterPosition, MOVED_KERNEL_COLUMNS, type MovedKernel, type SessionRow } from './rows.js';
import { insertEvents, kernelEventRows, sessionEventRows, type EventRow } from './session-events.js';
import { kernelMoveValues, movePhasesAtOnce } from './session-phases-at-once.js';

/** What a progress report's phases wrote: the session as it now stands, and its RUNNING time. */
export interface PhasesMoved {
  session: SessionRow;
  /** When it entered RUNNING, if one of the phases was that move. */
  startedAt: number | null;
}

/** Writes the moves of a chain to the locked row `s` (one statement, or three). */
type PhasesWriter = (
  trx: Tx,
  s: SessionRow,
  chain: Pick<SessionChain, 'moved' | 'data'>,
  containers: readonly { kernelId: string; containerId: string }[],
) => Promise<PhasesMoved | null>;

/**
 * A progress report's phases (PREPARING … RUNNING) applied to a session whose row `s` is locked
 * in `trx`: what the guarded moves, one per phase, wrote (the locked row's status says which of
 * them pass, phase-chain.ts), in ONE statement (session-phases-at-once.ts) however many phases
 * there are. Null when nothing moved (PULLING figures alone are merged). `write`: the
 * statements that write the moves (movePhasesStepByStep: the reference the tests compare with).
 */
export async function movePhasesIn(
  trx: Tx,
  s: SessionRow,
  steps: readonly PhaseStep[],
  containers: readonly { kernelId: string; containerId: string }[],
  write: PhasesWriter = movePhasesAtOnce,
): Promise<PhasesMoved | null> {
  const chain = sessionChain(s.status, steps);
  if (!chain.writes) return null;
  if (chain.moved.length === 0) {
    const data = trx.raw(`status_data || ?::jsonb`, [JSON.stringify(chain.data)]);
    await trx('sessions').where({ id: s.id, status: s.status }).update({ status_data: data });
    return null;
  }
  return write(trx, s, chain, containers);
}

/**
 * The moves of a chain in THREE statements: one UPDATE of the session (the last status, every
 * phase's time in status_history, the figures merged in status_data), one UPDATE of its
 * kernels (each along the moves its own status allows, with the report's containers for those
 * that entered RUNNING), and one INSERT of every phase's events and callback deliveries (built
 * in JS, sessionEventRows) in the order the moves one after the other wrote them (each phase:
 * its kernel events, then its session events). What the one statement was built from, and
 * the reference it is compared with (test/integration/session-phases-at-once).
 */
export const movePhasesStepByStep: PhasesWriter = async (trx, s, chain, containers) => {
  const data = trx.raw(`status_data || ?::jsonb`, [JSON.stringify(chain.data)]);
  const last = chain.moved[chain.moved.length - 1]!;
  const running = chain.moved.find((m) => m.status === 'RUNNING');
  const history = Object.fromEntries(chain.moved.map((m) => [m.status, new Date(m.at).toISOString()]));
  const [row] = (await trx('sessions')
    .where({ id: s.id, status: s.status })
    .update({
      status: last.status,
      updated_at: trx.fn.now(),
      status_history: trx.raw(`status_history || ?::jsonb`, [JSON.stringify(history)]),
      status_info: null,
      status_data: data,
      ...(running ? { started_at: new Date(running.at) } : {}),
    })
    .returning('*')) as SessionRow[];
  if (!row) return null; // not reached: the row is locked in this status

  const chains = [...kernelChains(chain.moved)];
  const { values, bindings } = kernelMoveValues(chains);
  const { rows: kernels } = (await trx.raw(
    `UPDATE kernels k SET status = v.final, status_info = NULL,
            status_history = k.status_history || v.hist,
            started_at = coalesce(v.started_at, k.started_at),
            container_id = CASE WHEN v.started_at IS NULL THEN k.container_id
              ELSE coalesce((SELECT c.container_id FROM jsonb_to_recordset(?::jsonb) AS c(id uuid, container_id text)
                              WHERE c.id = k.id), k.container_id) END
       FROM (VALUES ${values}) AS v(from_status, final, hist, started_at)
      WHERE k.session_id = ? AND k.status = v.from_status
      RETURNING ${MOVED_KERNEL_COLUMNS.map((c) => `k.${c}`).join(', ')}, v.from_status`,
    [
      JSON.stringify(containers.map((c) => ({ id: c.kernelId, container_id: c.containerId }))),
      ...bindings,
      s.id,
    ],
  )) as { rows: (MovedKernel & { from_status: string })[] };
  kernels.sort(byClusterPosition);

  const events: EventRow[] = [];
  let deliveries: ReturnType<typeof sessionEventRows>['deliveries'] = [];
  for (const step of chain.moved) {
    // The row as that move left it: only its status differs from the last (no phase sets
    // status_info, exit_code or result, which the events carry).
    const at = step === last ? row : { ...row, status: step.status };
    const moved = kernels.filter((k) =>
      chains.some(([from, steps]) => from === k.from_status && steps.includes(step)),
    );
    events.push(...kernelEventRows(at, moved, step.status, null));
    const own = sessionEventRows(at, step.status, null);
    events.push(...own.events);
    deliveries = [...deliveries, ...own.deliveries];
  }
  await insertEvents(trx, events, deliveries);
  return { session: row, startedAt: running ? running.at : null };
};
