import test from 'ava';
import { InsufficientPrivilege, InvalidRequest } from '../../src/domain/errors.js';
import { jobUser } from '../../src/domain/job-user.js';
import {
  folderStoragePath,
  groupFolderStoragePath,
  isStoragePath,
  mountReadOnly,
  parseMountEntry,
  requireFolderName,
} from '../../src/domain/storage-folder.js';

test('mount entries: a mode is ro or rw, or absent', (t) => {
  t.deepEqual(parseMountEntry('data'), { name: 'data', mode: null });
  t.deepEqual(parseMountEntry('data:ro'), { name: 'data', mode: 'ro' });
  t.deepEqual(parseMountEntry('data:rw'), { name: 'data', mode: 'rw' });
  t.throws(() => parseMountEntry('data:rx'), { instanceOf: InvalidRequest });
});

test('a read-only share mounts read-only and refuses an explicit rw', (t) => {
  t.true(mountReadOnly('d', 'ro', null));
  t.true(mountReadOnly('d', 'ro', 'ro'));
  t.throws(() => mountReadOnly('d', 'ro', 'rw'), { instanceOf: InsufficientPrivilege });
  t.false(mountReadOnly('d', 'rw', null));
  t.true(mountReadOnly('d', 'rw', 'ro'));
  t.false(mountReadOnly('d', 'owner', 'rw'));
  t.true(mountReadOnly('d', 'owner', 'ro'));
});

test('folders live in their owner namespace; paths from jobs are two plain segments', (t) => {
  t.is(folderStoragePath('AKIA0123', 'data'), 'AKIA0123/data');
  t.throws(() => folderStoragePath('AKIA0123', '../x'), { instanceOf: InvalidRequest });
  t.throws(() => folderStoragePath('a/b', 'x'), { instanceOf: InvalidRequest });
  t.throws(() => requireFolderName('/etc'), { instanceOf: InvalidRequest });
  t.throws(() => requireFolderName('..'), { instanceOf: InvalidRequest });
  t.true(isStoragePath('AKIA0123/data'));
  const g = groupFolderStoragePath('default', 'team', 'data');
  t.regex(g, /^g-[0-9a-f]{24}\/data$/);
  t.true(isStoragePath(g));
  t.not(groupFolderStoragePath('other', 'team', 'data'), g, 'a group is per domain');
  t.not(groupFolderStoragePath('default', 'team2', 'data'), g);
  for (const p of ['data', '../data', 'AKIA/../x', 'AKIA/x/y', '/AKIA/x', 'AKIA/..', ''])
    t.false(isStoragePath(p), p);
});

test('the job user comes from image labels, else the agent default', (t) => {
  const def = { uid: 1000, gid: 1000 };
  t.deepEqual(jobUser({}, def), def);
  t.deepEqual(jobUser({ 'ai.backend.uid': '1234', 'ai.backend.gid': '55' }, def), { uid: 1234, gid: 55 });
  t.deepEqual(jobUser({ 'ai.backend.uid': '1234' }, def), { uid: 1234, gid: 1234 });
  t.deepEqual(jobUser({ 'ai.backend.uid': 'root' }, def), def);
});
