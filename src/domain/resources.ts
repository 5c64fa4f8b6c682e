import { InvalidRequest } from './errors.js';

/** Resource slots: cpu in cores, mem in bytes, any device slot in its own unit. */
export type Slots = Record<string, number>;

const BINARY_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  ki: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  ti: 1024 ** 4,
  tib: 1024 ** 4,
};

/** Parses a byte size such as `4g`, `512m`, `1.5GiB` or a plain number of bytes. */
export function parseBytes(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.round(value);
  if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
    const mult = m ? BINARY_UNITS[(m[2] ?? '').toLowerCase()] : undefined;
    if (m && mult !== undefined) return Math.round(Number(m[1]) * mult);
  }
  throw new InvalidRequest(`${field} must be a size such as 512m or 4g (got ${JSON.stringify(value)}).`);
}

function parseCount(value: unknown, field: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n === 'number' && Number.isFinite(n) && n >= 0) return n;
  throw new InvalidRequest(`${field} must be a non-negative number (got ${JSON.stringify(value)}).`);
}

/** Slot names whose amount is a byte size. */
const BYTE_SLOTS = new Set(['mem', 'shmem']);

/**
 * Normalises a `resources` object from a request into Slots, refusing slot names that are not
 * in `known` (cpu, mem and the device slots agents declare).
 */
export function parseSlots(input: unknown, known: ReadonlySet<string>, field = 'resources'): Slots {
  if (input === null || input === undefined) return {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new InvalidRequest(`${field} must be an object such as {"cpu": "2", "mem": "4g"}.`);
  }
  const out: Slots = {};
  for (const [name, raw] of Object.entries(input as Record<string, unknown>)) {
    if (raw === null || raw === undefined) continue;
    if (!known.has(name)) {
      throw new InvalidRequest(
        `Unknown resource slot "${name}" in ${field}; known slots: ${[...known].join(', ')}.`,
      );
    }
    out[name] = BYTE_SLOTS.has(name)
      ? parseBytes(raw, `${field}.${name}`)
      : parseCount(raw, `${field}.${name}`);
  }
  return out;
}

export function addSlots(a: Slots, b: Slots): Slots {
  const out: Slots = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

export function subtractSlots(a: Slots, b: Slots): Slots {
  const out: Slots = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) - v;
  return out;
}

export function scaleSlots(a: Slots, factor: number): Slots {
  const out: Slots = {};
  for (const [k, v] of Object.entries(a)) out[k] = v * factor;
  return out;
}

/** True when `need` fits in `free`: every slot asked for is available (a tiny epsilon for cpu fractions). */
export function fits(need: Slots, free: Slots): boolean {
  return firstShortSlot(need, free) === null;
}

/** The first slot that `free` cannot give, with how much is asked and how much there is. */
export function firstShortSlot(
  need: Slots,
  free: Slots,
): { slot: string; need: number; free: number } | null {
  for (const [k, v] of Object.entries(need)) {
    if (v <= 0) continue;
    const have = free[k] ?? 0;
    if (v > have + 1e-9) return { slot: k, need: v, free: have };
  }
  return null;
}

/** Human form of a slot amount, for error messages. */
export function formatSlot(slot: string, amount: number): string {
  if (BYTE_SLOTS.has(slot)) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let v = amount;
    let u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u += 1;
    }
    return `${Number(v.toFixed(2))} ${units[u]}`;
  }
  return String(Number(amount.toFixed(3)));
}
