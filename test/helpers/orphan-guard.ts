/**
 * Loaded with `node --import` into the bai processes a test spawns (agents, managers; see
 * `guardedNodeArgs`): the process ends when its stdin reaches end-of-file. The test worker holds
 * the other end of that pipe and never writes to it, so EOF means the worker is gone — killed by
 * ava on a timeout, say — and an agent it started must not outlive it, driving a Docker engine and
 * a Redis the test runner stops next.
 */
process.stdin.once('end', () => process.kill(process.pid, 'SIGKILL'));
process.stdin.resume();
// The guard must not keep a process alive that would otherwise end.
process.stdin.unref();
