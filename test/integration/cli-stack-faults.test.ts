import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stackDown } from '../../src/cli/local-stack.js';
import { identityOf } from '../../src/stack/process-identity.js';
import { waitUntil } from '../../src/stack/process-util.js';
import { baiWithEnv } from '../helpers/cli.js';
import { testEnv } from '../helpers/env.js';
import {
  localStackEnv,
  pidsOf,
  stackLogs,
  waitGone,
  type StatusJson,
  type UpJson,
} from '../helpers/local-stack.js';
import { removeContainers } from '../helpers/stack.js';

// The local stack after things went wrong: a part killed, a recorded pid reused by a stranger.

const env = testEnv();
const id = randomBytes(4).toString('hex');
const stateDir = mkdtempSync(join(env.tmp, 'upf-'));
const statePath = join(stateDir, 'stack.json');
const BIN = fileURLToPath(new URL('../../../bin/bai.js', import.meta.url));
let sleeper: ChildProcess | null = null;

test.after.always(async () => {
  await stackDown(stateDir, () => {}).catch(() => {});
  // Our own child, not yet reaped: its pid cannot belong to anyone else.
  if (sleeper?.pid && sleeper.exitCode === null) process.kill(sleeper.pid, 'SIGKILL');
  await removeContainers(env.dockerHost, id);
  rmSync(stateDir, { recursive: true, force: true });
});

const json = <T>(s: string): T => JSON.parse(s) as T;
const base = { PATH: process.env.PATH, BAI_STATE_DIR: stateDir };
type Rec = { name: string; pid: number; startTime?: number };
const records = (): { parts: Rec[] } & Record<string, unknown> => json(readFileSync(statePath, 'utf8'));

test.serial(
  'the manager killed with SIGKILL: status says it is down and exits 1; up restarts only the manager',
  async (t) => {
    t.timeout(600_000); // generous: CI machines are shared and slow
    const upEnv = await localStackEnv(env, stateDir, id);
    const up = await baiWithEnv(upEnv, ['up', '--json']);
    t.is(up.code, 0, up.stderr + stackLogs(stateDir));
    const before = pidsOf(json<UpJson>(up.stdout).parts);

    // `bai stack logs manager -f` (a real process: it runs until stopped) sees the next manager's lines.
    const follower = spawn(process.execPath, [BIN, 'stack', 'logs', 'manager', '-f', '-n', '0'], {
      env: { ...process.env, ...base },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let followed = '';
    follower.stdout.on('data', (b: Buffer) => (followed += b.toString('utf8')));

    process.kill(before.manager!, 'SIGKILL');
    await waitGone(before.manager!);
    const status = await baiWithEnv(base, ['status', '--json']);
    t.is(status.code, 1);
    const s = json<StatusJson>(status.stdout);
    t.false(s.up);
    const part = (name: string) => s.parts.find((p) => p.name === name)!;
    t.false(part('manager').answers);
    t.is(part('manager').pid, null);
    t.true(part('redis').answers);
    t.is(part('redis').pid, before.redis!);
    const human = await baiWithEnv(base, ['status']);
    t.is(human.code, 1);
    t.regex(human.stdout, /\nmanager +down +- +- +http:\/\/127\.0\.0\.1:\d+\n/);

    const again = await baiWithEnv(upEnv, ['up', '--json']);
    t.is(again.code, 0, again.stderr + stackLogs(stateDir));
    const st = json<UpJson>(again.stdout);
    t.false(st.alreadyUp);
    t.deepEqual(
      st.parts.map((p) => [p.name, p.action]),
      [
        ['redis', 'adopted'],
        ['docker', 'external'],
        ['manager', 'started'],
        ['agent', 'adopted'],
      ],
    );
    const after = pidsOf(st.parts);
    t.is(after.redis, before.redis);
    t.is(after.agent, before.agent);
    t.not(after.manager, before.manager);
    const ok = await baiWithEnv(base, ['status', '--json']);
    t.is(ok.code, 0, ok.stdout + stackLogs(stateDir));
    await waitUntil('the followed log', () => followed.includes('{"ready":true'), 60_000);
    follower.kill('SIGTERM'); // our child, not yet reaped
  },
);

test.serial(
  'a recorded pid now used by another process is neither signalled by down nor taken for a part by up',
  async (t) => {
    t.timeout(600_000);
    const upEnv = await localStackEnv(env, stateDir, id);
    const up = await baiWithEnv(upEnv, ['up', '--json']);
    t.is(up.code, 0, up.stderr + stackLogs(stateDir));
    sleeper = spawn('sleep', ['300'], { stdio: 'ignore' });
    const stranger = sleeper.pid!;

    // down: the agent's record names the stranger's pid (as when the kernel reuses a pid).
    const st = records();
    const agent = st.parts.find((p) => p.name === 'agent')!;
    const realAgent = agent.pid;
    agent.pid = stranger;
    writeFileSync(statePath, JSON.stringify(st));
    // The real agent is named in the record no more: stop it here, while Redis still answers
    // (it started in this process: its pid cannot have been reused).
    process.kill(realAgent, 'SIGTERM');
    await waitGone(realAgent, 60_000);
    const down = await baiWithEnv(base, ['down', '--json']);
    t.is(down.code, 0, down.stderr);
    const res = json<{
      stopped: { name: string }[];
      cleared: { name: string; pid: number; reason: string }[];
    }>(down.stdout);
    t.deepEqual(
      res.stopped.map((p) => p.name),
      ['manager', 'redis'],
    );
    t.deepEqual(res.cleared, [{ name: 'agent', pid: stranger, reason: 'another process' }]);
    t.not(identityOf(stranger), null, 'the stranger still runs');

    // up: the manager's record names the stranger; it is not taken for a running manager.
    const manager = st.parts.find((p) => p.name === 'manager')!;
    writeFileSync(statePath, JSON.stringify({ ...st, parts: [{ ...manager, pid: stranger }] }));
    const up2 = await baiWithEnv(upEnv, ['up']);
    t.is(up2.code, 0, up2.stderr + stackLogs(stateDir));
    t.regex(
      up2.stdout,
      new RegExp(`manager: pid ${stranger} now belongs to another process; record cleared, not signalled`),
    );
    t.regex(up2.stdout, /manager: started \(pid \d+\)/);
    t.regex(up2.stdout, /\nbai is up at /);
    t.not(identityOf(stranger), null, 'the stranger still runs');
    const status = json<StatusJson>((await baiWithEnv(base, ['status', '--json'])).stdout);
    t.true(status.up);
    t.not(status.parts.find((p) => p.name === 'manager')!.pid, stranger);

    // The first format of stack.json: a record without a start time is judged by its command line.
    const now = records();
    const down2 = await baiWithEnv(base, ['down', '--json']);
    t.is(down2.code, 0, down2.stderr);
    writeFileSync(
      statePath,
      JSON.stringify({ endpoint: now.endpoint, pids: [{ name: 'manager', pid: stranger }], dockerHost: '' }),
    );
    const down3 = await baiWithEnv(base, ['down', '--json']);
    t.deepEqual(json<{ cleared: unknown[] }>(down3.stdout).cleared, [
      { name: 'manager', pid: stranger, reason: 'another process' },
    ]);
    t.not(identityOf(stranger), null, 'the stranger still runs');
    // ... and an empty pid list (what bai down used to leave) is nothing running, not "already up".
    writeFileSync(statePath, JSON.stringify({ endpoint: now.endpoint, pids: [], dockerHost: '' }));
    const status2 = await baiWithEnv(base, ['status']);
    t.is(status2.code, 1);
    t.regex(status2.stdout, /\nmanager +down +- /);

    process.kill(stranger, 'SIGKILL');
    await waitGone(stranger);
    sleeper = null;
  },
);
