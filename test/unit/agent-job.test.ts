import test from 'ava';
import { agentJobOf } from '../../src/queue/payloads.js';
import { heartbeatOf } from '../../src/workers/agent/heartbeat.js';
import { newTracked } from '../../src/workers/agent/tracked.js';
import { listsAtConflict } from '../../src/domain/container-plan.js';

const run = {
  sessionId: 's',
  sessionName: 'n',
  accessKey: 'AK',
  attempt: 1,
  image: 'img',
  registryAuth: null,
  startupCommand: 'true',
  bootstrapScript: null,
  environ: {},
  mounts: [],
  resourceOpts: {},
  kernels: [{ kernelId: 'k', clusterRole: 'main', clusterIdx: 1, hostname: 'main1', slots: { cpu: 1 } }],
  startsAt: null,
  batchTimeoutSec: null,
};

test('each agent job is told by its name and typed by its data', (t) => {
  const r = agentJobOf('run-session', run);
  t.true('job' in r && r.job.name === 'run-session' && r.job.data.image === 'img');
  const d = agentJobOf('destroy-session', { sessionId: 's', reason: 'user-requested', forced: false });
  t.true('job' in d && d.job.name === 'destroy-session' && d.job.data.reason === 'user-requested');
  const c = agentJobOf('cleanup-session', { sessionId: 's', attempt: 2 });
  t.true('job' in c && c.job.name === 'cleanup-session' && c.job.data.attempt === 2);
});

test('an unknown name and data that do not fit the name are refused, not cast', (t) => {
  t.deepEqual(agentJobOf('reboot', run), { error: 'unknown-job' });
  t.deepEqual(agentJobOf('run-session', { sessionId: 's' }), { error: 'malformed' });
  t.deepEqual(agentJobOf('run-session', { ...run, kernels: [{ kernelId: 'k' }] }), { error: 'malformed' });
  t.deepEqual(agentJobOf('destroy-session', { sessionId: 's', reason: 'x' }), { error: 'malformed' });
  t.deepEqual(agentJobOf('cleanup-session', { sessionId: 's', attempt: '2' }), { error: 'malformed' });
  t.deepEqual(agentJobOf('cleanup-session', null), { error: 'malformed' });
});

test('the heartbeat lists held sessions, not those still preparing, and says when the engine is away', (t) => {
  const sessions = [
    newTracked('a', 1, null, 'preparing'),
    newTracked('b', 2, null, 'created'),
    newTracked('c', 1, 10, 'running'),
    newTracked('d', 3, null, 'exited'),
  ];
  const base = {
    agentId: 'ag',
    scalingGroup: 'default',
    slots: { cpu: 4 },
    occupied: { cpu: 2 },
    draining: false,
    sessions,
    at: 5,
  };
  const up = heartbeatOf({ ...base, engineUp: true });
  t.false('engineDown' in up);
  t.deepEqual(up.sessions, [
    { sessionId: 'b', attempt: 2, state: 'created' },
    { sessionId: 'c', attempt: 1, state: 'running' },
    { sessionId: 'd', attempt: 3, state: 'exited' },
  ]);
  t.true(heartbeatOf({ ...base, engineUp: false, draining: true }).engineDown);
});

test('only a first attempt of one kernel with no start time skips the list before its create', (t) => {
  t.true(listsAtConflict(run));
  // Another attempt's containers may still be on the engine (its cleanup not done yet).
  t.false(listsAtConflict({ ...run, attempt: 2 }));
  // A cluster: a conflict on its second create would come after its network and first container.
  t.false(listsAtConflict({ ...run, kernels: [...run.kernels, { ...run.kernels[0]!, kernelId: 'k2' }] }));
  // A start time: its barrier is prepared before the create.
  t.false(listsAtConflict({ ...run, startsAt: Date.now() + 60_000 }));
});
