/**
 * When to try the one-statement append. It lands only if no other writer appended since this driver
 * last saw the head, so with several processes appending to one session it keeps missing, and each miss
 * costs a round trip and a plan before the locked path runs anyway (the benchmark's 8 writer processes
 * on one session: 128 appends/s trying every time, 279/s never trying; one writer alone: 806/s trying,
 * 524/s not). After a miss the next appends to that session take the lock directly: 1, then 2, 4 … up to
 * 32 of them while the misses go on; one that lands starts over.
 */
const MAX_SKIP = 32;

export class SpeculationBackoff {
  /** Per session: consecutive misses, and how many appends are still to skip the attempt. */
  private readonly misses = new Map<string, { streak: number; skip: number }>();

  constructor(private readonly maxSessions: number) {}

  /** Whether this append tries the one-statement path (and counts down a skip window if not). */
  shouldTry(id: string): boolean {
    const m = this.misses.get(id);
    if (!m || m.skip === 0) return true;
    m.skip--;
    return false;
  }

  /** The attempt missed because another writer got there first (the head moved, or the row was locked). */
  missed(id: string): void {
    const m = this.misses.get(id) ?? { streak: 0, skip: 0 };
    this.misses.delete(id);
    m.skip = Math.min(2 ** m.streak, MAX_SKIP);
    if (m.skip < MAX_SKIP) m.streak++;
    this.misses.set(id, m);
    if (this.misses.size > this.maxSessions) this.misses.delete(this.misses.keys().next().value!);
  }

  /** An attempt landed, or the session was removed: its next append tries again, with no streak. */
  reset(id: string): void {
    this.misses.delete(id);
  }
}
