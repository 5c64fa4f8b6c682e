/**
 * starts_at by barrier: a session with a start time has its containers created AND started
 * ahead, each holding the user's command behind a barrier — a shell blocked reading a FIFO the
 * agent made in a host folder mounted into the container. At the instant the agent writes to
 * the FIFO and the shell `exec`s the command Docker would have run, so only that write (and
 * the exec) lie on the critical path, not Docker's start. Images without /bin/sh cannot hold a
 * barrier: they are started by the agent's timer, as before.
 */

/** Where the barrier's host folder is mounted in the container (read-only). */
export const BARRIER_MOUNT = '/bai-barrier';
/** The FIFO's name in that folder. */
export const BARRIER_FIFO = 'go';
/** The shell every barrier is held by: checked for in the image before it is relied on. */
export const BARRIER_SHELL = '/bin/sh';
/**
 * The FIFO the shell holds open (read-write, which never blocks) while it waits, and closes
 * once it read the word: the agent's proof that the command has not run (`held`). Opening it
 * for writing without blocking succeeds only while a shell holds it; writing is never needed.
 */
export const BARRIER_HELD = 'held';
/**
 * What the shell does first: hold `held`, wait for the agent's word, let go of `held`. A read
 * that ends without a line (the FIFO closed unwritten) never runs the command: exit 125,
 * Docker's own code for "the container could not run its command".
 */
export const BARRIER_WAIT =
  `exec 9<>${BARRIER_MOUNT}/${BARRIER_HELD}; ` +
  `read _ < ${BARRIER_MOUNT}/${BARRIER_FIFO} || exit 125; exec 9<&-`;
/** The barrier of any argv: wait, then become the command (`exec "$@"`). */
export const BARRIER_SCRIPT = `${BARRIER_WAIT}; exec "$@"`;
/**
 * The script of barriers made before the `held` FIFO existed: such a container (held by an
 * older agent) is known to be held by `ps` showing this shell (heldAtBarrier).
 */
export const LEGACY_BARRIER_SCRIPT = `read _ < ${BARRIER_MOUNT}/${BARRIER_FIFO} || exit 125; exec "$@"`;
/**
 * The file the agent writes in the main's barrier folder once every FIFO of a release is
 * written (after `released-at`, which it writes first): the proof that the command was let run.
 */
export const BARRIER_WRITTEN = 'written';
/**
 * Where a held session's main shell stands, as the agent sees it: `held` (it holds the `held`
 * FIFO: it waits for its word), `past` (known past the barrier: an older agent's container
 * whose `ps` shows the command), `unseen` (no shell holds `held`: past the barrier, or not at
 * it yet, in the moments after its container started).
 */
export type ShellAt = 'held' | 'past' | 'unseen';

/**
 * What an agent that did not see the end of a release (it restarted, or its clock thread died)
 * concludes of a running session whose `released-at` is written: `held` (its command has not
 * run: release it again), `ran` (it was let run), or `wait` (ask again shortly). `released-at`
 * alone does not say, as it is written before the FIFOs; `written` does. Without it, a shell
 * that holds no `held` is past the barrier only once it had time to reach it: `waitMs` after its
 * container's start (a shell's first line comes milliseconds after it, seconds on a loaded
 * machine; the agent waits before its first heartbeat, so not the release's own 60 s).
 */
export function releaseSeen(
  shell: ShellAt,
  written: boolean,
  sinceStartMs: number,
  waitMs: number,
): 'held' | 'ran' | 'wait' {
  if (shell === 'held') return 'held';
  if (shell === 'past' || written || sinceStartMs > waitMs) return 'ran';
  return 'wait';
}

/** `$0` of the barrier shell (what `ps` shows between the script and the command). */
export const BARRIER_ARG0 = 'bai-barrier';
/** The label that marks a container created behind a barrier (value `1`). */
export const BARRIER_LABEL = 'ai.bai.start-barrier';
/**
 * Below this much time before the instant (decided before the containers are created), a
 * barrier buys nothing: starting the container would take about as long. The session is then
 * created and started as before.
 */
export const BARRIER_MIN_LEAD_MS = 250;

/** An image's own ENTRYPOINT and CMD, as the engine's image inspect gives them. */
export interface ImageCommand {
  entrypoint: string[] | null;
  cmd: string[] | null;
}

/**
 * The argv Docker runs for a container created with `specCmd` (null: the image's CMD) and no
 * entrypoint of its own: the image's ENTRYPOINT followed by the command.
 */
export function effectiveArgv(image: ImageCommand, specCmd: string[] | null): string[] {
  const cmd = specCmd !== null && specCmd.length > 0 ? specCmd : (image.cmd ?? []);
  return [...(image.entrypoint ?? []), ...cmd];
}

/**
 * The entrypoint and command that hold `effectiveArgv` behind the barrier and then run exactly
 * it. Null when there is nothing to run: Docker refuses such a container, and it must be
 * refused the same way without a barrier. Setting an entrypoint makes Docker ignore the
 * image's CMD, so the command is always given; `argv` is what runs once released.
 *
 * A shell command (`/bin/sh -c <script> [$0 args…]`, how every startup command runs) is fused
 * into the barrier's own shell: the wait, a newline, then the script, with the same `$0` and
 * arguments, so the release wakes the shell that runs it and nothing is `exec`'d in between
 * (one `exec` of /bin/sh fewer on the critical path). The newline keeps the script a command
 * of its own: the shell reads and runs one line at a time, so even a syntax error in it shows
 * only once released, as it would unfused (its line numbers count one more). Any other argv is
 * `exec "$@"`'d after the wait, keeping each argument one word, and the PID.
 */
export function barrierCommand(
  image: ImageCommand,
  specCmd: string[] | null,
): { entrypoint: string[]; cmd: string[]; argv: string[] } | null {
  const argv = effectiveArgv(image, specCmd);
  if (argv.length === 0) return null;
  const [prog, flag, script, ...rest] = argv;
  if (prog === BARRIER_SHELL && flag === '-c' && script !== undefined)
    return {
      entrypoint: [BARRIER_SHELL, '-c', `${BARRIER_WAIT}\n${script}`],
      cmd: rest.length > 0 ? rest : [BARRIER_SHELL], // `$0`: the shell's own name, as unfused
      argv,
    };
  return { entrypoint: [BARRIER_SHELL, '-c', BARRIER_SCRIPT, BARRIER_ARG0], cmd: argv, argv };
}

/** Whether a session with this start time is held at a barrier (rather than started by a timer). */
export function wantsBarrier(startsAt: number | null, now: number, enabled: boolean): boolean {
  return enabled && startsAt !== null && startsAt - now >= BARRIER_MIN_LEAD_MS;
}

/**
 * The paths a container must have for its barrier to work: the shell, and the command's
 * program when it is named by an absolute path (a missing one would make the barrier's `exec`
 * fail with 127 where Docker's start fails, so the session keeps the timed path's answer).
 */
export function pathsTheBarrierNeeds(argv: readonly string[]): string[] {
  const prog = argv[0];
  return prog !== undefined && prog.startsWith('/') && prog !== BARRIER_SHELL
    ? [BARRIER_SHELL, prog]
    : [BARRIER_SHELL];
}

/**
 * Whether a container held by an older agent (no `held` FIFO in its folder) is still held:
 * one of its processes (as `ps -o args` shows them) is the barrier shell. Once released, the
 * shell has become the command and none is.
 */
export function heldAtBarrier(processArgs: readonly string[]): boolean {
  const held = `${BARRIER_SHELL} -c ${LEGACY_BARRIER_SCRIPT}`;
  return processArgs.some((a) => a.startsWith(held));
}

/** The host folder of one container's barrier, under the agent's barrier root. */
export function barrierFolder(root: string, containerName: string): string {
  return `${root.replace(/\/+$/, '')}/${containerName}`;
}
