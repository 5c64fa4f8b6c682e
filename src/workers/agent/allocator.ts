import { addSlots, firstShortSlot, subtractSlots, type Slots } from '../../domain/resources.js';

/**
 * The agent's own ledger of what its kernels hold. The manager places without over-commit;
 * this is the second lock on the door: an agent never starts a kernel its free slots cannot hold.
 */
export class Allocator {
  private readonly held = new Map<string, Slots>();

  constructor(readonly total: Slots) {}

  occupied(): Slots {
    let sum: Slots = {};
    for (const s of this.held.values()) sum = addSlots(sum, s);
    return sum;
  }

  free(): Slots {
    return subtractSlots(this.total, this.occupied());
  }

  /** Holds `need` for `key`; returns the short slot when it does not fit. Idempotent per key. */
  allocate(key: string, need: Slots): { slot: string; need: number; free: number } | null {
    if (this.held.has(key)) return null;
    const short = firstShortSlot(need, this.free());
    if (short) return short;
    this.held.set(key, need);
    return null;
  }

  /** Records an allocation found at start-up (re-adoption) without checking. */
  adopt(key: string, need: Slots): void {
    this.held.set(key, need);
  }

  release(key: string): void {
    this.held.delete(key);
  }
}
