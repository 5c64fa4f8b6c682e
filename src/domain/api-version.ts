/** Backend.AI API versions bai speaks; the newest is what `GET /` announces. */
export const SUPPORTED_API_VERSIONS = [
  'v4.20190615',
  'v5.20191215',
  'v6.20200815',
  'v6.20210815',
  'v6.20220315',
  'v6.20220615',
  'v7.20230615',
  'v8.20240315',
  'v8.20240915',
] as const;

export const SERVER_API_VERSION = 'v8.20240915';

export interface ApiVersion {
  major: number;
  date: string;
}

/** Parses `vMAJOR.YYYYMMDD`. Any well-formed version from v4 to v9 is accepted. */
export function parseApiVersion(text: string): ApiVersion | null {
  const m = /^v(\d+)\.(\d{8})$/.exec(text.trim());
  if (!m) return null;
  const major = Number(m[1]);
  if (major < 4 || major > 9) return null;
  return { major, date: m[2] ?? '' };
}
