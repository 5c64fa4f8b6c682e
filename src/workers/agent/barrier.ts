import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { containerName } from '../../domain/container-plan.js';
import {
  BARRIER_FIFO,
  BARRIER_HELD,
  BARRIER_MOUNT,
  BARRIER_WRITTEN,
  barrierFolder,
  heldAtBarrier,
  releaseSeen,
  type ShellAt,
} from '../../domain/start-barrier.js';
import { sessionLog, type AgentContext } from './agent-context.js';
import { mainOf, type Tracked } from './tracked.js';

const execFileP = promisify(execFile);
/** How long a release waits for a container's shell to reach its barrier (started late, or again). */
const REACH_BARRIER_MS = 60_000;
/** While a release waits for a shell, how often it asks the engine whether the container runs. */
const ENGINE_CHECK_MS = 500;
/** The file (in the main's barrier folder) that says when the session was released. */
const RELEASED_AT = 'released-at';

/**
 * The host side of the start barriers (src/domain/start-barrier.ts): one folder per container
 * under `BAI_START_BARRIER_DIR`, holding the FIFO the container's shell waits on, mounted
 * read-only at /bai-barrier. The folder lives as long as the container.
 */
export class StartBarrier {
  constructor(private readonly ctx: AgentContext) {}

  /** Whether this agent holds starts_at sessions at a barrier (BAI_START_BARRIER is not off). */
  get enabled(): boolean {
    return this.ctx.config.startBarrierDir !== null;
  }

  private folder(kernelId: string, attempt: number): string {
    return barrierFolder(this.ctx.config.startBarrierDir ?? '', containerName(kernelId, attempt));
  }

  /** A fresh barrier for one container; returns its bind (`host:/bai-barrier:ro`). */
  async prepare(kernelId: string, attempt: number): Promise<string> {
    const dir = this.folder(kernelId, attempt);
    await rm(dir, { recursive: true, force: true }); // a cut start's leftovers
    await mkdir(dir, { recursive: true, mode: 0o755 });
    // Node has no mkfifo; readable by the job's user whatever its uid (and userns offset).
    await execFileP('mkfifo', ['-m', '0644', `${dir}/${BARRIER_FIFO}`]);
    // Opened read-write by the job's shell (whatever its uid) on the read-only mount: a FIFO
    // is no file of the mount's, so only its mode matters.
    await execFileP('mkfifo', ['-m', '0666', `${dir}/${BARRIER_HELD}`]);
    return `${dir}:${BARRIER_MOUNT}:ro`;
  }

  /** A session's containers in the order their FIFOs are written: subs first, main last. */
  private order(t: Tracked): { kernelId: string; containerId: string }[] {
    const main = t.containers.find((c) => c.role === 'main') ?? t.containers[0];
    if (!main) throw new Error(`session ${t.sessionId} has no container`);
    return [...t.containers.filter((x) => x !== main), main];
  }

  /** The FIFOs of a held session, in the order they are written (for the release clock). */
  fifos(t: Tracked): string[] {
    return this.order(t).map((c) => `${this.folder(c.kernelId, t.attempt)}/${BARRIER_FIFO}`);
  }

  /** The file that says when the session was released (in its main's barrier folder). */
  releasedAtFile(t: Tracked): string {
    return `${this.folder(this.order(t).at(-1)!.kernelId, t.attempt)}/${RELEASED_AT}`;
  }

  /**
   * Lets a held session's command run: records `releasedAt` first (so an agent restarted
   * midway knows the command may run), then writes each container's FIFO, subs first, main
   * last, as the timed start starts them; from the `from`-th on (the release clock wrote the
   * ones before, then stopped at one whose shell did not wait yet).
   */
  async release(t: Tracked, releasedAt: number, from = 0): Promise<void> {
    await writeFile(this.releasedAtFile(t), String(releasedAt));
    for (const c of this.order(t).slice(from)) await this.open(t, c);
    await writeFile(this.writtenFile(t), String(Date.now()));
  }

  /** The file that says every FIFO of the release was written (BARRIER_WRITTEN). */
  private writtenFile(t: Tracked): string {
    return `${this.folder(mainOf(t).kernelId, t.attempt)}/${BARRIER_WRITTEN}`;
  }

  /**
   * Writes one container's FIFO. Opening it without blocking succeeds only while its shell waits
   * on it: until then (a container started moments ago, or stopped by an engine restart and
   * started again here) the release waits for it, within REACH_BARRIER_MS.
   */
  private async open(t: Tracked, c: { kernelId: string; containerId: string }): Promise<void> {
    const fifo = `${this.folder(c.kernelId, t.attempt)}/${BARRIER_FIFO}`;
    const deadline = Date.now() + REACH_BARRIER_MS;
    let checked = Date.now();
    for (;;) {
      try {
        const fh = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
        try {
          await fh.write('go\n');
        } finally {
          await fh.close();
        }
        return;
      } catch (err) {
        // ENXIO: nobody reads it yet (the shell has not reached the barrier): see below.
        if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err;
      }
      if (t.stopReason) throw new Error(`session stopped (${t.stopReason}) during its release`);
      if (Date.now() > deadline) throw new Error(`container ${c.kernelId} did not reach its start barrier`);
      if (Date.now() - checked >= ENGINE_CHECK_MS) {
        // Not the engine at every try: a loaded one would be slowed for every session.
        checked = Date.now();
        const st = await this.ctx.docker.inspect(c.containerId);
        if (st === null) throw new Error(`container ${c.kernelId} is gone`);
        // Stopped at the barrier (its command never ran): hold it again, then release it.
        if (!st.running) await this.ctx.docker.start(c.containerId);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** When the session was released (null: never, its command has not run). */
  async releasedAt(t: Tracked): Promise<number | null> {
    const main = t.containers.find((c) => c.role === 'main') ?? t.containers[0];
    if (!main) return null;
    try {
      const at = Number(await readFile(`${this.folder(main.kernelId, t.attempt)}/${RELEASED_AT}`, 'utf8'));
      return Number.isFinite(at) && at > 0 ? at : null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null; // never released
      throw err;
    }
  }

  /**
   * When a session was let run, for an agent that did not see its release end (restarted, or
   * its clock thread died) while its main container runs (`startedAt`: Docker's start of it):
   * null if its command has not run — never released, or its main's shell still waits at the
   * barrier (release it again). A shell that holds no `held` FIFO while nothing says its word
   * was written may not have reached the barrier yet: asked again until it shows, or until it
   * had BAI_BARRIER_SHELL_WAIT_MS to (domain `releaseSeen`).
   */
  async ranAt(t: Tracked, startedAt: number | null): Promise<number | null> {
    const at = await this.releasedAt(t);
    if (at === null) return null;
    for (let asked = 0; ; asked++) {
      const since = startedAt === null ? Infinity : Date.now() - startedAt;
      const wait = this.ctx.config.barrierShellWaitMs;
      const seen = releaseSeen(await this.shellAt(t), await this.written(t), since, wait);
      if (seen !== 'wait') return seen === 'ran' ? at : null;
      if (asked === 0) sessionLog(this.ctx, t).info('release not seen to end: waiting for its shell');
      await sleep(20);
    }
  }

  private async written(t: Tracked): Promise<boolean> {
    try {
      await access(this.writtenFile(t));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  /**
   * Where the main's shell stands: it holds the `held` FIFO until it read its word
   * (src/domain/start-barrier.ts), so opening that FIFO for writing without blocking succeeds
   * only then; nothing is written (the shell never reads it). A container held by an older
   * agent has no such FIFO: `ps` says, as it did then.
   */
  private async shellAt(t: Tracked): Promise<ShellAt> {
    const main = mainOf(t);
    try {
      const fh = await open(
        `${this.folder(main.kernelId, t.attempt)}/${BARRIER_HELD}`,
        constants.O_WRONLY | constants.O_NONBLOCK,
      );
      await fh.close();
      return 'held';
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENXIO') return 'unseen'; // no shell holds it: past the barrier, or not there yet
      if (code !== 'ENOENT') throw err;
      return heldAtBarrier(await this.ctx.docker.processArgs(main.containerId)) ? 'held' : 'past';
    }
  }

  /** Removes the barrier folders of a session's containers (with the containers). */
  async remove(kernelIds: readonly string[], attempt: number): Promise<void> {
    if (!this.enabled) return;
    for (const k of kernelIds) await rm(this.folder(k, attempt), { recursive: true, force: true });
  }
}
