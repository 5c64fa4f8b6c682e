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
 * What the shell runs: wait for the agent's word, then become the command. A read that ends
 * without a line (the FIFO closed unwritten) never runs the command: exit 125, Docker's own
 * code for "the container could not run its command".
 */
export const BARRIER_SCRIPT = `read _ < ${BARRIER_MOUNT}/${BARRIER_FIFO} || exit 125; exec "$@"`;
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
 * it (`exec "$@"` keeps each argument as one word, and the PID). Null when there is nothing to
 * run: Docker refuses such a container, and it must be refused the same way without a barrier.
 * Setting an entrypoint makes Docker ignore the image's CMD, so the command is always given.
 */
export function barrierCommand(
  image: ImageCommand,
  specCmd: string[] | null,
): { entrypoint: string[]; cmd: string[] } | null {
  const argv = effectiveArgv(image, specCmd);
  if (argv.length === 0) return null;
  return { entrypoint: [BARRIER_SHELL, '-c', BARRIER_SCRIPT, BARRIER_ARG0], cmd: argv };
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
 * Whether a container is still held: one of its processes (as `ps -o args` shows them) is the
 * barrier shell. Once released, the shell has become the command and none is.
 */
export function heldAtBarrier(processArgs: readonly string[]): boolean {
  const held = `${BARRIER_SHELL} -c ${BARRIER_SCRIPT}`;
  return processArgs.some((a) => a.startsWith(held));
}

/** The host folder of one container's barrier, under the agent's barrier root. */
export function barrierFolder(root: string, containerName: string): string {
  return `${root.replace(/\/+$/, '')}/${containerName}`;
}
