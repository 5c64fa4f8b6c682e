import type { DockerAdapter, ImageConfig } from '../../docker/docker-adapter.js';

/** How long an image found on the engine is taken as still there without asking again. */
export const IMAGE_SEEN_MS = 2_000;

/**
 * The run pipeline's image inspects, one per image ref within IMAGE_SEEN_MS: sessions of one
 * image placed together (a drain, an array) ask the engine once, not once each. Only an image
 * found is remembered, by its exact ref (another tag is another ref, inspected and pulled as
 * before); an image not there is asked for every time, so a missing one is always pulled. An
 * image removed from the engine within the window makes the create answer "No such image":
 * the pipeline then forgets it and inspects (and pulls) again (`forget`).
 */
export class ImageConfigs {
  private readonly seen = new Map<string, { config: ImageConfig; until: number }>();

  constructor(
    private readonly docker: Pick<DockerAdapter, 'imageConfig'>,
    private readonly windowMs = IMAGE_SEEN_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The image's config, null when the engine does not have it; `cached` says whether it was remembered. */
  async get(ref: string): Promise<{ config: ImageConfig | null; cached: boolean }> {
    const known = this.seen.get(ref);
    const t = this.now();
    if (known && known.until > t) return { config: known.config, cached: true };
    if (known) this.seen.delete(ref);
    const config = await this.docker.imageConfig(ref);
    if (config) {
      if (this.seen.size >= 64) this.prune(t);
      this.seen.set(ref, { config, until: t + this.windowMs });
    }
    return { config, cached: false };
  }

  /** The engine said it lacks the image: asked again next time. */
  forget(ref: string): void {
    this.seen.delete(ref);
  }

  private prune(t: number): void {
    for (const [ref, e] of this.seen) if (e.until <= t) this.seen.delete(ref);
    if (this.seen.size >= 64) this.seen.clear();
  }
}

/** Whether a create failed because the engine lacks its image (removed since it was seen). */
export function lacksImage(err: unknown): boolean {
  const status = (err as { statusCode?: unknown }).statusCode;
  return status === 404 && /no such image/i.test(String((err as Error).message));
}
