import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import {
  BARRIER_ARG0,
  BARRIER_FIFO,
  BARRIER_HELD,
  BARRIER_MOUNT,
  BARRIER_SCRIPT,
  BARRIER_SHELL,
  barrierCommand,
} from '../src/domain/start-barrier.js';
import { sleep } from '../src/stack/process-util.js';
import type { BenchStack } from './lib/stack.js';
import { baselineContainer } from './lib/stack.js';
import { lowerIsBetter, type BenchResult } from './lib/result.js';
import { summarize } from './lib/stats.js';

/** The starts_at bench's job: bai runs its startup command as `/bin/sh -c <command>`. */
const JOB = ['/bin/sh', '-c', 'exec date +%s.%N'];

/** The two ways a held container can run it once its FIFO is written. */
const VARIANTS = {
  /** Round two to four: the barrier shell `exec`s `/bin/sh -c <command>`. */
  exec: { entrypoint: [BARRIER_SHELL, '-c', BARRIER_SCRIPT, BARRIER_ARG0], cmd: JOB },
  /** Round five: the command fused into the barrier's shell (barrierCommand). */
  fused: barrierCommand({ entrypoint: null, cmd: null }, JOB)!,
} as const;
type Variant = keyof typeof VARIANTS;

/**
 * The container's part of the starts_at skew alone, both barrier forms interleaved in one
 * window (so a loaded machine loads both alike): containers of the bench's size (0.1 cpu) held
 * at a barrier on the bench's engine, their FIFOs written from here one every `gapMs`,
 * alternating; the figure is each job's printed first instruction minus the time of its write.
 * No manager, no agent: what a release costs once the FIFO is written.
 */
export async function runBarrierWake(
  stack: BenchStack,
  pairs = 20,
  gapMs = 400,
  log: (m: string) => void = () => {},
): Promise<BenchResult> {
  const d = stack.dockerApi;
  const root = join(stack.base, 'barrier-wake');
  const held: { variant: Variant; id: string; dir: string }[] = [];
  try {
    for (let i = 0; i < pairs * 2; i++) {
      const variant: Variant = i % 2 === 0 ? 'exec' : 'fused';
      const dir = join(root, `c${i}`);
      mkdirSync(dir, { recursive: true });
      execFileSync('mkfifo', ['-m', '0644', join(dir, BARRIER_FIFO)]);
      execFileSync('mkfifo', ['-m', '0666', join(dir, BARRIER_HELD)]);
      const spec = baselineContainer(stack, `bench-wake-${process.pid}-${i}`, 0.1, 64 * 1024 * 1024);
      const v = VARIANTS[variant];
      const id = await d.createContainer({
        ...spec,
        entrypoint: [...v.entrypoint],
        cmd: [...v.cmd],
        binds: [`${dir}:${BARRIER_MOUNT}:ro`],
      });
      await d.start(id);
      held.push({ variant, id, dir });
    }
    const loadAt = loadavg()[0]!;
    const wrote: number[] = [];
    for (const h of held) {
      const fifo = join(h.dir, BARRIER_FIFO);
      let fd = -1;
      for (const deadline = Date.now() + 60_000; fd < 0;) {
        try {
          fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() > deadline) throw err;
          await sleep(20); // its shell has not reached the barrier yet
        }
      }
      await sleep(gapMs);
      wrote.push(Date.now());
      writeSync(fd, 'go\n');
      closeSync(fd);
    }
    const parts: Record<Variant, number[]> = { exec: [], fused: [] };
    for (const [i, h] of held.entries()) {
      await d.wait(h.id);
      const t = Number((await d.logTail(h.id, 4096)).text.trim().split('\n')[0]) * 1000;
      if (!Number.isFinite(t) || t <= 0) throw new Error(`barrier_wake: ${h.variant} printed no time`);
      parts[h.variant].push(t - wrote[i]!);
    }
    const e = summarize(parts.exec);
    const f = summarize(parts.fused);
    const fmt = (s: typeof e) =>
      `p50 ${s.median.toFixed(1)} / p95 ${s.p95.toFixed(1)} / max ${s.max.toFixed(1)} ms`;
    log(
      `barrier_wake (load ${loadAt.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}): exec ${fmt(e)}; fused ${fmt(f)}`,
    );
    return {
      name: 'barrier_wake',
      rows: [
        lowerIsBetter(
          {
            bench: 'barrier_wake',
            metric: `FIFO written → first instruction p50 (${pairs} pairs)`,
            unit: 'ms',
            bai: f.median,
            baseline: e.median,
            baselineName: 'barrier shell execs /bin/sh -c',
            target: '',
          },
          () => null,
        ),
      ],
      extra: { fused: f, exec: e, fusedSamples: parts.fused, execSamples: parts.exec, loadAt },
    };
  } finally {
    for (const h of held) await d.remove(h.id).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}
