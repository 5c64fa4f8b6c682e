/** What the agent knows of a kernel's live output copy when its main container has exited. */
export interface LiveCopyAtExit {
  /** Whether the copy reached the end of the engine's stream in time (undefined: no copy began). */
  drained: boolean | undefined;
  /** Whether the copy's last bytes are the stored tail's last bytes. */
  endsRight: boolean;
  /** Bytes appended to the copy in all. */
  copiedBytes: number;
  /** Bytes of output in all, as the engine stored them, and whether its tail is only a part. */
  tailBytes: number;
  tailTruncated: boolean;
}

/**
 * Whether the live copy must be ended with the stored tail, so followers print the true end.
 * A copy that does not end like the output must. One whose stream did not end in time must
 * too, unless it provably holds the whole output already: it ends like it and holds as many
 * bytes as the engine stored, none cut. Then its stream's end only came late (a loaded
 * engine), and the tail again would print the whole output twice.
 */
export function liveCopyNeedsTail(c: LiveCopyAtExit): boolean {
  if (!c.endsRight) return true;
  if (c.drained !== false) return false;
  return !liveCopyHoldsAll(c.copiedBytes, { bytes: c.tailBytes, truncated: c.tailTruncated });
}

/**
 * Whether a live copy holds the whole output of an exited container by its count: as many
 * bytes as the engine stored, none of them cut (`copiedBytes` null: not known). The stored
 * output of an exited container is complete, so nothing more can come from its stream then.
 */
export function liveCopyHoldsAll(
  copiedBytes: number | null,
  tail: { bytes: number; truncated: boolean },
): boolean {
  return copiedBytes !== null && !tail.truncated && copiedBytes === tail.bytes;
}
