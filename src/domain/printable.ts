import { InvalidRequest } from './errors.js';

/**
 * Characters that must not reach a terminal from a name, a tag or any other short string the
 * CLI and console print: C0 controls (CR, LF, ESC…), DEL, C1 controls (0x80–0x9f, where CSI
 * lives too) and the bidirectional overrides and isolates that make text read other than it
 * is stored (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C).
 */
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
// The same, but tab, LF and CR are allowed (scripts and commands span lines).
const UNPRINTABLE_MULTILINE =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/** The first character of `s` a terminal would interpret, with its index; null when none. */
export function firstUnprintable(s: string, multiline = false): { index: number; codePoint: string } | null {
  const m = (multiline ? UNPRINTABLE_MULTILINE : UNPRINTABLE).exec(s);
  if (!m) return null;
  const cp = m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
  return { index: m.index, codePoint: `U+${cp}` };
}

/** Throws a 400 naming `field` when `s` holds a control or bidi-override character. */
export function requirePrintable(s: string, field: string, multiline = false): string {
  const bad = firstUnprintable(s, multiline);
  if (bad)
    throw new InvalidRequest(
      `${field} must not contain control characters (${bad.codePoint} at position ${bad.index}).`,
      { data: { field } },
    );
  return s;
}
