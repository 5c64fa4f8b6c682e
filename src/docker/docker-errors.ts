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
