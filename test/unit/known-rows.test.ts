import test from 'ava';
import type { SessionRow } from '../../src/persistence/rows.js';
import { terminatedRowOf } from '../../src/persistence/session-exit.js';
import { kernelMoveValues, phasedRowOf } from '../../src/persistence/session-phases-at-once.js';
import type { PhaseStep } from '../../src/domain/phase-chain.js';

/** The rows the one-statement writers build their events from, without reading them back. */

const locked = {
  id: 's1',
  status: 'RUNNING',
  status_history: { PENDING: 'a', RUNNING: 'b' },
  status_info: 'old-info',
  status_data: { keep: 1, exitCode: 9 },
  result: 'UNDEFINED',
  exit_code: null,
  started_at: new Date('2026-11-29T10:00:00.000Z'),
} as unknown as SessionRow;

test('terminatedRowOf: the move to TERMINATED as the guarded UPDATE writes it', (t) => {
  const row = terminatedRowOf(
    locked,
    { info: 'task-finished', data: { exitCode: 0 }, result: 'SUCCESS', exitCode: 0 },
    '2026-11-29T10:00:01.000Z',
  );
  t.is(row.status, 'TERMINATED');
  t.deepEqual(row.status_history, { PENDING: 'a', RUNNING: 'b', TERMINATED: '2026-11-29T10:00:01.000Z' });
  t.is(row.status_info, 'task-finished');
  t.deepEqual(row.status_data, { keep: 1, exitCode: 0 });
  t.is(row.result, 'SUCCESS');
  t.is(row.exit_code, 0);
  t.deepEqual(row.started_at, locked.started_at, 'started_at kept when the move does not set it');
  t.is(locked.status, 'RUNNING', 'the locked row is not changed');
});

test('terminatedRowOf: started_at set by the move, null included', (t) => {
  const move = { info: 'x', data: {}, result: 'FAILURE', exitCode: 1 } as const;
  t.is(terminatedRowOf(locked, { ...move, startedAt: null }, 'now').started_at, null);
  const at = new Date('2026-11-29T09:00:00.000Z');
  t.deepEqual(terminatedRowOf(locked, { ...move, startedAt: at }, 'now').started_at, at);
});

const step = (status: PhaseStep['status'], at: number, data: Record<string, unknown> = {}): PhaseStep => ({
  status,
  at,
  data,
});

test('phasedRowOf: the last status, every phase in the history, figures merged, started_at on RUNNING', (t) => {
  const s = { ...locked, status: 'SCHEDULED', started_at: null } as SessionRow;
  const moved = [step('PREPARING', 1000), step('RUNNING', 2000)];
  const row = phasedRowOf(s, { moved, data: { pulled: 3 } });
  t.is(row.status, 'RUNNING');
  t.deepEqual(row.status_history, {
    PENDING: 'a',
    RUNNING: new Date(2000).toISOString(),
    PREPARING: new Date(1000).toISOString(),
  });
  t.is(row.status_info, null);
  t.deepEqual(row.status_data, { keep: 1, exitCode: 9, pulled: 3 });
  t.deepEqual(row.started_at, new Date(2000));
  const notRunning = phasedRowOf(s, { moved: [step('PREPARING', 1000)], data: {} });
  t.is(notRunning.status, 'PREPARING');
  t.is(notRunning.started_at, null);
});

test('kernelMoveValues: one VALUES row per kernel status, with its final status, history and RUNNING time', (t) => {
  const a = step('PREPARING', 1000);
  const b = step('RUNNING', 2000);
  const { values, bindings } = kernelMoveValues([
    ['SCHEDULED', [a, b]],
    ['PREPARING', [b]],
  ]);
  t.is(values.split('), (').length, 2);
  t.deepEqual(bindings, [
    'SCHEDULED',
    'RUNNING',
    JSON.stringify({ PREPARING: new Date(1000).toISOString(), RUNNING: new Date(2000).toISOString() }),
    new Date(2000),
    'PREPARING',
    'RUNNING',
    JSON.stringify({ RUNNING: new Date(2000).toISOString() }),
    new Date(2000),
  ]);
});
