import type { SessionWire } from '../domain/session-wire.js';
import type { Output } from './output.js';

/** The rows `session info` adds for an array's parent or child. */
export function arrayRows(info: SessionWire, o: Output): [string, string][] {
  if (info.array) {
    const counts = Object.entries(info.array.counts)
      .filter(([, n]) => n > 0)
      .map(([s, n]) => `${o.status(s)} ${n}`)
      .join(', ');
    return [
      ['Array', `${info.array.spec} (${info.array.size} children)`],
      ['Children', counts || '-'],
    ];
  }
  if (info.arrayParent)
    return [
      [
        'Array',
        `index ${info.arrayParent.index} of ${info.arrayParent.size}, parent ${info.arrayParent.sessionName} (${info.arrayParent.sessionId})`,
      ],
    ];
  return [];
}

/** The page of children of a parent's info, as a table, and how to see the next page. */
export function printChildren(info: SessionWire, o: Output, ref: string): void {
  const page = info.array?.children;
  if (!page || page.items.length === 0) return;
  o.line('');
  o.table(
    ['INDEX', 'SESSION', 'STATUS', 'RESULT', 'EXIT'],
    page.items.map((c) => [
      String(c.index),
      c.sessionName,
      o.status(c.status),
      o.status(c.result),
      c.exitCode === null ? '-' : String(c.exitCode),
    ]),
  );
  const shown = page.offset + page.items.length;
  if (shown < page.total)
    o.line(
      `(children ${page.offset + 1}-${shown} of ${page.total}; next: bai session info ${ref} --children-offset ${shown})`,
    );
}
