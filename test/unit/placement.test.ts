import test from 'ava';
import { fitsLeft, neverFits, placementOf, placeSessions } from '../../src/domain/placement.js';

const agent = (id: string, cpu: number, usedCpu = 0) => ({
  id,
  total: { cpu, mem: 100 },
  occupied: { cpu: usedCpu, mem: 0 },
});

test('a session goes to an agent that can hold it, never over capacity', (t) => {
  const d = placeSessions(
    [
      { sessionId: 'a', need: { cpu: 1 } },
      { sessionId: 'b', need: { cpu: 1 } },
      { sessionId: 'c', need: { cpu: 1 } },
    ],
    [agent('x', 2)],
  );
  t.deepEqual(
    d.map((x) => x.sessionId),
    ['a', 'b'],
  );
});

test('a large session reserves an agent: small ones behind it do not take the space it waits for', (t) => {
  const d = placeSessions(
    [
      { sessionId: 'big', need: { cpu: 4 } },
      { sessionId: 'small', need: { cpu: 1 } },
    ],
    [agent('x', 4, 1)],
  );
  t.deepEqual(d, []);
});

test('backfill: small sessions use other agents while a large one waits for its reserved agent', (t) => {
  const d = placeSessions(
    [
      { sessionId: 'big', need: { cpu: 4 } },
      { sessionId: 'small', need: { cpu: 1 } },
    ],
    [agent('x', 4, 3), agent('y', 1)],
  );
  t.deepEqual(d, [{ sessionId: 'small', agentId: 'y' }]);
});

test('best fit: the fuller agent is chosen', (t) => {
  const d = placeSessions(
    [{ sessionId: 'a', need: { cpu: 1, mem: 10 } }],
    [agent('empty', 8), agent('busy', 8, 6)],
  );
  t.is(d[0]?.agentId, 'busy');
});

test('neverFits names the slot and the largest agent', (t) => {
  t.deepEqual(neverFits({ cpu: 8 }, [agent('x', 4), agent('y', 2)]), { slot: 'cpu', need: 8, max: 4 });
  t.is(neverFits({ cpu: 2 }, [agent('x', 4)]), null);
  t.is(neverFits({ cpu: 64 }, []), null);
});

test('placementOf says whether a later candidate could still be placed: not once every agent is reserved', (t) => {
  // One agent, full for the second candidate: it reserves the agent; nothing after it can go.
  const full = placementOf(
    [
      { sessionId: 'a', need: { cpu: 1 } },
      { sessionId: 'b', need: { cpu: 2 } },
    ],
    [agent('x', 2)],
  );
  t.deepEqual(full, { decisions: [{ sessionId: 'a', agentId: 'x' }], open: false, left: [] });
  // Two agents: the one that could hold `big` is reserved, the other stays open for later ones.
  const open = placementOf([{ sessionId: 'big', need: { cpu: 4 } }], [agent('x', 4, 3), agent('y', 1, 1)]);
  t.deepEqual(open, {
    decisions: [],
    open: true,
    left: [{ free: { cpu: 0, mem: 100 }, architecture: undefined }],
  });
  // Every candidate placed: the agents are open.
  t.true(placementOf([{ sessionId: 'a', need: { cpu: 1 } }], [agent('x', 2)]).open);
  // No agent: nothing can be placed, now or later in the pass.
  t.false(placementOf([{ sessionId: 'a', need: { cpu: 1 } }], []).open);
});

test('fitsLeft: a later candidate fits only the room left on an agent nobody reserved', (t) => {
  const arm = { ...agent('z', 8), architecture: 'aarch64' };
  // x keeps 1 cpu after `a`; y is reserved by `big`; z runs another architecture.
  const p = placementOf(
    [
      { sessionId: 'a', need: { cpu: 1 } },
      { sessionId: 'big', need: { cpu: 4 }, architecture: 'x86_64' },
    ],
    [agent('x', 2), agent('y', 4, 2), arm],
  );
  t.deepEqual(p.decisions, [{ sessionId: 'a', agentId: 'x' }]);
  t.true(fitsLeft({ cpu: 1 }, 'x86_64', p.left), 'the cpu left on x');
  t.false(fitsLeft({ cpu: 2 }, 'x86_64', p.left), 'two cpus: only on y, which big reserved');
  t.true(fitsLeft({ cpu: 2 }, null, p.left), 'any architecture: z');
  t.false(fitsLeft({ cpu: 1, gpu: 1 }, null, p.left), 'a slot no agent has');
  t.false(fitsLeft({ cpu: 1 }, null, []), 'no agent left');
});
