import { BaiError } from '../domain/errors.js';

/** A failure of the Docker engine, with its HTTP status when it gave one. */
export class DockerError extends BaiError {
  constructor(
    message: string,
    readonly statusCode: number | null,
    opts: { cause?: unknown } = {},
  ) {
    super('docker-error', 502, 'Docker engine error.', message, opts);
  }
}

export class ImagePullFailed extends BaiError {
  constructor(message: string) {
    super('image-pull-failed', 502, 'Image pull failed.', message);
  }
}

export function statusOf(err: unknown): number | null {
  const s = (err as { statusCode?: unknown }).statusCode;
  return typeof s === 'number' ? s : null;
}

export function wrap(what: string, err: unknown): DockerError {
  const msg = (err as { json?: { message?: string } }).json?.message ?? (err as Error).message ?? String(err);
  return new DockerError(`${what}: ${msg}`, statusOf(err), { cause: err });
}

/**
 * Settles when `signal` aborts, whether or not docker-modem ever calls back. A response the
 * engine cut after its headers (dockerd SIGKILLed under a pending wait) is destroyed without an
 * event the modem listens to, so its promise stays pending for ever, and an abort that comes
 * after the cut reaches nothing: without this race the agent's watcher hangs on it.
 */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
