/**
 * Where a callback may go. A callback_url is fetched from inside the service's network, so an
 * address that reaches inside (loopback, link-local with its cloud metadata service, private
 * and unique-local ranges, the unspecified address) is refused unless the operator's
 * allow-list names it. Pure: the sender resolves names and asks here about every address.
 */
export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'unique-local'
  | 'unspecified'
  | 'multicast'
  | 'reserved'
  | 'invalid';

/** An IPv4 address as 4 bytes; null when `s` is not dotted-quad decimal. */
export function parseIpv4(s: string): number[] | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out.push(n);
  }
  return out;
}

/** An IPv6 address (brackets allowed, embedded IPv4 allowed) as 16 bytes; null when invalid. */
export function parseIpv6(input: string): number[] | null {
  let s = input.startsWith('[') && input.endsWith(']') ? input.slice(1, -1) : input;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (!s.includes(':')) return null;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  const last = s.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIpv4(last);
    if (!v4) return null;
    tail = v4;
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (h: string): number[] | null => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !rest) return null;
  let words: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - rest.length;
    if (fill < 1) return null;
    words = [...head, ...Array<number>(fill).fill(0), ...rest];
  } else {
    if (head.length !== 8) return null;
    words = head;
  }
  const bytes = words.flatMap((w) => [w >> 8, w & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

function classifyV4(b: number[]): AddressClass {
  const [a, c] = [b[0]!, b[1]!];
  if (a === 0) return b.every((x) => x === 0) ? 'unspecified' : 'reserved';
  if (a === 127) return 'loopback';
  if (a === 10) return 'private';
  if (a === 172 && c >= 16 && c <= 31) return 'private';
  if (a === 192 && c === 168) return 'private';
  if (a === 169 && c === 254) return 'link-local';
  if (a === 100 && c >= 64 && c <= 127) return 'private'; // carrier-grade NAT, 100.64/10
  if (a === 192 && c === 0 && b[2] === 0) return 'reserved';
  if (a === 198 && (c === 18 || c === 19)) return 'reserved'; // benchmarking
  if (a >= 224 && a <= 239) return 'multicast';
  if (a >= 240) return 'reserved'; // 240/4 and broadcast
  return 'public';
}

function classifyV6(b: number[]): AddressClass {
  const zeroUpTo = (n: number) => b.slice(0, n).every((x) => x === 0);
  if (b.every((x) => x === 0)) return 'unspecified';
  if (zeroUpTo(15) && b[15] === 1) return 'loopback';
  // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible (::a.b.c.d) forms.
  if (zeroUpTo(10) && b[10] === 0xff && b[11] === 0xff) return classifyV4(b.slice(12));
  if (zeroUpTo(12)) return classifyV4(b.slice(12));
  // NAT64 (64:ff9b::/96) reaches the IPv4 address it embeds.
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && b.slice(4, 12).every((x) => x === 0))
    return classifyV4(b.slice(12));
  if ((b[0]! & 0xfe) === 0xfc) return 'unique-local';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'link-local';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return 'private'; // deprecated site-local
  if (b[0] === 0xff) return 'multicast';
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8) return 'reserved';
  return 'public';
}

/** What kind of address `ip` is (a literal, as dns.lookup returns it). */
export function classifyAddress(ip: string): AddressClass {
  const v4 = parseIpv4(ip);
  if (v4) return classifyV4(v4);
  const v6 = parseIpv6(ip);
  if (v6) return classifyV6(v6);
  return 'invalid';
}

/** One entry of the operator's allow-list: a host name, an address or a CIDR, with an optional port. */
interface AllowEntry {
  host: string | null;
  net: { bytes: number[]; bits: number } | null;
  port: number | null;
}

function parseEntry(raw: string): AllowEntry | null {
  let s = raw.trim().toLowerCase();
  if (s === '') return null;
  let port: number | null = null;
  const bracket = /^\[([^\]]+)\](?::(\d+))?(\/\d+)?$/.exec(s);
  if (bracket) {
    s = bracket[1]! + (bracket[3] ?? '');
    port = bracket[2] ? Number(bracket[2]) : null;
  } else if (!s.includes('::') && (s.match(/:/g) ?? []).length === 1) {
    const [h, p] = s.split(':') as [string, string];
    if (!/^\d+$/.test(p)) return null;
    s = h;
    port = Number(p);
  }
  const [addr, bitsRaw] = s.split('/') as [string, string | undefined];
  const bytes = parseIpv4(addr) ?? parseIpv6(addr);
  if (bytes) {
    const max = bytes.length * 8;
    const bits = bitsRaw === undefined ? max : Number(bitsRaw);
    if (!Number.isInteger(bits) || bits < 0 || bits > max) return null;
    return { host: null, net: { bytes, bits }, port };
  }
  if (bitsRaw !== undefined) return null;
  return { host: addr, net: null, port };
}

function inNet(ip: string, net: { bytes: number[]; bits: number }): boolean {
  const b = parseIpv4(ip) ?? parseIpv6(ip);
  if (!b || b.length !== net.bytes.length) return false;
  for (let i = 0; i < net.bits; i++) {
    const mask = 0x80 >> (i % 8);
    if ((b[Math.floor(i / 8)]! & mask) !== (net.bytes[Math.floor(i / 8)]! & mask)) return false;
  }
  return true;
}

/** The operator's allow-list, parsed once (entries it cannot read are reported by `invalid`). */
export class CallbackAllowList {
  private readonly entries: AllowEntry[];
  readonly invalid: string[] = [];

  constructor(raw: readonly string[]) {
    this.entries = [];
    for (const r of raw) {
      const e = parseEntry(r);
      if (e) this.entries.push(e);
      else if (r.trim() !== '') this.invalid.push(r);
    }
  }

  /** Whether the host name of the URL itself is named (then its addresses are trusted). */
  namesHost(host: string, port: number): boolean {
    const h = host.toLowerCase().replace(/^\[|\]$/g, '');
    return this.entries.some((e) => e.host === h && (e.port === null || e.port === port));
  }

  /** Whether an address (with the URL's port) is inside a named address or range. */
  namesAddress(ip: string, port: number): boolean {
    return this.entries.some(
      (e) => e.net !== null && inNet(ip, e.net) && (e.port === null || e.port === port),
    );
  }
}

/** Why a resolved address may not be called; null when it may. */
export function refusalOf(host: string, port: number, ip: string, allow: CallbackAllowList): string | null {
  if (allow.namesHost(host, port) || allow.namesAddress(ip, port)) return null;
  const cls = classifyAddress(ip);
  if (cls === 'public') return null;
  return `${ip} is a ${cls} address (not on the operator's callback allow-list)`;
}
