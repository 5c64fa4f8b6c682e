/**
 * The user a job runs as (Backend.AI's LOCAL_USER_ID): the image's `ai.backend.uid` and
 * `ai.backend.gid` labels when it has them, else the agent's configured default (1000:1000).
 * An image label may name 0 on purpose — the image's curator decides; nothing in a request
 * can, so a user never asks for root.
 */
export const UID_LABEL = 'ai.backend.uid';
export const GID_LABEL = 'ai.backend.gid';

function id(v: string | undefined): number | null {
  if (v === undefined || !/^\d{1,10}$/.test(v.trim())) return null;
  const n = Number(v.trim());
  return n <= 2 ** 32 - 2 ? n : null;
}

export function jobUser(
  labels: Record<string, string>,
  fallback: { uid: number; gid: number },
): { uid: number; gid: number } {
  const uid = id(labels[UID_LABEL]) ?? fallback.uid;
  const gid = id(labels[GID_LABEL]) ?? (id(labels[UID_LABEL]) !== null ? uid : fallback.gid);
  return { uid, gid };
}
