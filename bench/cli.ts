import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliEnv, type BenchStack } from './lib/stack.js';
import { lowerIsBetter, type BenchResult, type Row } from './lib/result.js';
import { round, summarize } from './lib/stats.js';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const TICK_MS = 10; // clock ticks of /proc/<pid>/stat: 100 per second on Linux

/** CPU time (user + system, ms) of this process's waited-for children so far (`cutime + cstime`). */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ": state is field 3; cutime and cstime are fields 16 and 17.
  return (Number(fields[16 - 3]) + Number(fields[17 - 3])) * TICK_MS;
}

/** Runs `node ARGS` to its end: wall time and CPU time in ms; rejects unless it exits 0. */
function runNode(args: string[], env: NodeJS.ProcessEnv): Promise<{ wallMs: number; cpuMs: number }> {
  return new Promise((res, rej) => {
    const cpu0 = childrenCpuMs();
    const t0 = performance.now();
    const p = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    p.on('error', rej);
    p.on('exit', (code) => {
      const wallMs = performance.now() - t0;
      // The child is reaped by now, so its CPU time is in cutime/cstime.
      if (code === 0) res({ wallMs, cpuMs: childrenCpuMs() - cpu0 });
      else rej(new Error(`node ${args.join(' ')} exited ${code}: ${err}`));
    });
  });
}

/**
 * `bai --version` and `bai session info X` (against the bench's manager) as a user runs them,
 * a fresh `node bin/bai.js` each time, against `node -e 0`: the three interleaved `runs` times
 * after a warm-up each, so that noise falls on all alike. Wall time is the figure; CPU time
 * (user + system of the child) is the same comparison that other users of the machine disturb
 * less. Linux reports a child's CPU time in whole 10-ms ticks, so one run's reading is off by up
 * to a tick (`node -e 0` read 20 or 30 ms by turns): the CPU rows compare means, the loop's
 * total CPU time over its runs, which is exact to one tick for the whole loop.
 */
export async function runCliBench(
  stack: BenchStack,
  runs: number,
  log: (m: string) => void,
): Promise<BenchResult> {
  const created = await stack.client.request<{ sessionId: string }>('POST', '/session', {
    image: 'python',
    type: 'batch',
    startupCommand: 'true',
    enqueueOnly: true,
    starts_at: '+1d', // stays PENDING: no container, nothing else disturbed
  });
  const stateDir = join(stack.base, 'cli-state');
  mkdirSync(stateDir, { recursive: true });
  const env = cliEnv(stack, stateDir);
  const bin = join(root, 'bin/bai.js');
  const cases = {
    node: ['-e', '0'],
    version: [bin, '--version'],
    info: [bin, 'session', 'info', created.sessionId],
  };
  const wall = { node: [] as number[], version: [] as number[], info: [] as number[] };
  const cpu = { node: [] as number[], version: [] as number[], info: [] as number[] };
  for (let i = -1; i < runs; i++) {
    for (const k of ['node', 'version', 'info'] as const) {
      const r = await runNode(cases[k], env);
      if (i < 0) continue; // warm-up: file cache, the manager's first request
      wall[k].push(r.wallMs);
      cpu[k].push(r.cpuMs);
    }
  }
  log(`cli: ${runs} runs each`);
  const rows: Row[] = [];
  const meets = (ratio: number | null) => (ratio === null ? null : ratio <= 3);
  for (const [k, name] of [
    ['version', '`bai --version`'],
    ['info', '`bai session info X`'],
  ] as const) {
    for (const [what, times, of] of [
      ['wall time', wall, summarize],
      ['CPU time (mean)', cpu, (v: number[]) => round(summarize(v).mean)],
    ] as const)
      rows.push(
        lowerIsBetter(
          {
            bench: 'cli',
            metric: `${name} ${what}`,
            unit: 'ms',
            bai: of(times[k]),
            baseline: of(times.node),
            baselineName: '`node -e 0`',
            target: '≤ 3× [goal ≤ 2×]',
          },
          meets,
        ),
      );
  }
  return { name: 'cli', rows, extra: { runs, wallMs: wall, cpuMs: cpu } };
}
