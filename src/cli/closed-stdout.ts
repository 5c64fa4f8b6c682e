/**
 * What the CLI does when whoever reads its output goes away (`bai ps -a | head -1`): Node then
 * reports EPIPE on stdout, which, unhandled, ended the command with a stack trace — in the
 * middle of `bai up`, after it had started Redis and before the manager. Now a command that
 * starts or stops the local stack finishes its work and says nothing more; any other command
 * stops quietly with status 0, as its reader has what it wanted. `bai manager` and `bai agent`
 * are left as they were: a service whose output is cut fails loudly, for its supervisor to see.
 */

/** The commands (first word) that finish without their reader: they change what runs here. */
const FINISHES_WITHOUT_READER = new Set(['up', 'down', 'reset']);
/** The services: not handled here. */
const SERVICES = new Set(['manager', 'agent']);

/** What closedStdoutHandler needs of the process. */
export interface ClosedStdoutDeps {
  /** Ends the process at once with this status. */
  exit(code: number): void;
}

/** Handles a closed stdout for the CLI command `argv` names (nothing for a service). */
export function watchClosedStdout(
  argv: readonly string[],
  stdout: NodeJS.WriteStream,
  deps: ClosedStdoutDeps,
): void {
  if (!SERVICES.has(argv[0] ?? '')) stdout.on('error', closedStdoutHandler(argv, deps));
}

/**
 * The handler for stdout's 'error' events: EPIPE (and every later write's error, once the pipe
 * is closed) is handled as above; any other error is thrown, as it was unhandled before.
 */
export function closedStdoutHandler(argv: readonly string[], deps: ClosedStdoutDeps): (err: Error) => void {
  let closed = false;
  const keepGoing = FINISHES_WITHOUT_READER.has(argv[0] ?? '');
  return (err: Error) => {
    const code = (err as NodeJS.ErrnoException).code;
    if (!closed && code !== 'EPIPE') throw err;
    if (closed) return;
    closed = true;
    if (!keepGoing) deps.exit(0);
  };
}
