import test from 'ava';
import { UsageError } from 'clipanion';
import { InvalidArgument } from '../../src/cli/base-command.js';
import { psStatuses } from '../../src/cli/commands/ps.js';
import { mountArgs, resourceArgs } from '../../src/cli/key-values.js';

// The create flags as Backend.AI's CLI means them: what goes into the request body.

test('-r mem without a unit is MiB, as Backend.AI sends it; other units and slots as typed', (t) => {
  t.deepEqual(resourceArgs(['cpu=2', 'mem=256']), { cpu: '2', mem: '256m' });
  t.deepEqual(resourceArgs(['mem=0.5']), { mem: '0.5m' });
  t.deepEqual(resourceArgs(['mem=4g']), { mem: '4g' });
  t.deepEqual(resourceArgs(['mem=512MiB']), { mem: '512MiB' });
  t.deepEqual(resourceArgs(['cuda.shares=1']), { 'cuda.shares': '1' });
  t.deepEqual(resourceArgs(undefined), {});
  t.throws(() => resourceArgs(['mem']), { instanceOf: InvalidArgument });
});

test('-m NAME[=PATH][:ro] into mounts, mount_map and mount_options', (t) => {
  t.deepEqual(mountArgs(['data=/home/work/data:ro', 'out', 'cfg:rw', 'logs=/logs']), {
    mounts: ['data', 'out', 'cfg', 'logs'],
    mountMap: { data: '/home/work/data', logs: '/logs' },
    mountOptions: { data: { permission: 'ro' }, cfg: { permission: 'rw' } },
  });
  t.deepEqual(mountArgs(['data:ro']), {
    mounts: ['data'],
    mountMap: {},
    mountOptions: { data: { permission: 'ro' } },
  });
  // Backend.AI's NAME:PATH and its long form.
  t.deepEqual(mountArgs(['data:/mnt/d']), {
    mounts: ['data'],
    mountMap: { data: '/mnt/d' },
    mountOptions: {},
  });
  t.deepEqual(mountArgs(['type=bind,source=data,target=/mnt/d,perm=ro']), {
    mounts: ['data'],
    mountMap: { data: '/mnt/d' },
    mountOptions: { data: { permission: 'ro' } },
  });
  t.deepEqual(mountArgs(['source=data,permission=rw']).mountOptions, { data: { permission: 'rw' } });
  t.deepEqual(mountArgs(undefined), { mounts: [], mountMap: {}, mountOptions: {} });
  for (const bad of [
    '',
    '=/x',
    'data=',
    'source=data,perm=rx',
    'source=data,color=red',
    'type=tmpfs,source=x',
  ])
    t.throws(() => mountArgs([bad]), { instanceOf: InvalidArgument }, bad);
  t.throws(() => mountArgs(['a', 'a:ro']), { instanceOf: InvalidArgument });
});

test('ps --dead, --running, -a, --status choose statuses, one at a time', (t) => {
  t.is(psStatuses({ dead: true }), 'TERMINATED,CANCELLED');
  t.is(psStatuses({ running: true }), 'CREATING,RUNNING');
  t.is(psStatuses({ all: true }), undefined);
  t.is(psStatuses({ status: 'PENDING' }), 'PENDING');
  t.true(psStatuses({})!.split(',').includes('PENDING'));
  t.false(psStatuses({})!.split(',').includes('TERMINATED'));
  t.throws(() => psStatuses({ dead: true, running: true }), { instanceOf: UsageError });
  t.throws(() => psStatuses({ all: true, dead: true }), { instanceOf: UsageError });
});
