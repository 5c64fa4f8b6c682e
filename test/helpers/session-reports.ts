import type { TestFn } from 'ava';
import type { PhaseStep } from '../../src/domain/phase-chain.js';
import type { ExitMove, KernelExit } from '../../src/persistence/session-exit.js';
import { movePhasesIn, movePhasesStepByStep } from '../../src/persistence/session-phases.js';
import { storeFixture, writtenAndContainers, type Made, type StoreFixture } from './session-rows.js';

/**
 * What an agent reports of a session made by newSession (session-rows.ts), as the report
 * handlers hand it to the store: its main kernel's exit, and its phases up to RUNNING. For the
 * tests that compare two writers of the same report (session-exit*, session-phases-*).
 */

/** When the exited container started. */
export const STARTED = new Date('2026-11-29T10:00:00.000Z');

/** The main kernel's exit with `exitCode`, with the subs' output (the first one truncated). */
export function exitOf(m: Made, exitCode: number): KernelExit {
  return {
    kernelId: m.main,
    exitCode,
    logs: 'out\n',
    logsTruncated: false,
    logsBytes: 4,
    startedAt: STARTED,
    subLogs: [
      { kernelId: m.subs[0]!, logs: 'sub1\n', logsTruncated: true, logsBytes: 90_000 },
      { kernelId: m.subs[1]!, logs: 'sub2\n', logsTruncated: false, logsBytes: 5 },
    ],
  };
}

/** The session's move for an exit with `exitCode` (137: out of memory), but its started_at. */
export function exitMoveOf(exitCode: number): Omit<ExitMove, 'startedAt'> {
  return {
    info: exitCode === 0 ? 'task-finished' : 'task-failed',
    data: exitCode === 137 ? { exitCode, oomKilled: true, error: 'oom' } : { exitCode },
    result: exitCode === 0 ? 'SUCCESS' : 'FAILURE',
    exitCode,
  };
}

/** A progress report's phases from PREPARING to RUNNING, a millisecond apart. */
export function phaseSteps(): PhaseStep[] {
  const t = Date.parse('2026-11-29T10:00:00.000Z');
  return [
    { status: 'PREPARING', at: t, data: {} },
    { status: 'PULLING', at: t + 1, data: { pulled: 1 } },
    { status: 'PREPARED', at: t + 2, data: {} },
    { status: 'CREATING', at: t + 3, data: {} },
    { status: 'RUNNING', at: t + 4, data: { note: 'x' } },
  ];
}

/** The containers a progress report names: the main's and the first sub's (the second has none yet). */
export const containersOf = (m: Made) => [
  { kernelId: m.main, containerId: 'c-main' },
  { kernelId: m.subs[0]!, containerId: 'c-sub1' },
];

/**
 * The phases applied in the report handler's transaction: in the store's one statement, or with
 * `three` in the three statements it replaces (movePhasesStepByStep); the session's started_at
 * once RUNNING, null when nothing moved.
 */
export async function phasesInTransaction(
  fx: StoreFixture,
  m: Made,
  phases: PhaseStep[],
  three = false,
): Promise<number | null> {
  return fx.store.inTransaction(async (trx) => {
    const s = (await fx.store.lockIn(trx, m.id))!;
    const moved = three
      ? await movePhasesIn(trx, s, phases, containersOf(m), movePhasesStepByStep)
      : await fx.store.movePhasesIn(trx, s, phases, containersOf(m));
    return moved?.startedAt ?? null;
  });
}

/**
 * What the phases tests (session-phases-*) share: the store fixture, the transaction's path
 * (phasesInTransaction) and what a session's rows say with its containers (writtenAndContainers;
 * the callback_url, which differs on purpose between twins, is not in it).
 */
export function phasesFixture(test: TestFn) {
  const fx = storeFixture(test);
  return {
    fx,
    inTransaction: (m: Made, phases: PhaseStep[], three = false) => phasesInTransaction(fx, m, phases, three),
    same: (m: Made) => writtenAndContainers(fx, m),
  };
}
