/**
 * A sparse seq -> byte offset index of one log: the end of every MARK_EVERY-th event's line. A read of
 * any seq range then starts at most MARK_EVERY events before it instead of at the start of the file,
 * so reading page 2 000 of a long session costs what reading page 1 does. Offsets of a valid prefix
 * never change for the life of an inode, so marks are kept until the file is replaced.
 */
export const MARK_EVERY = 64;

export class SeqMarks {
  private readonly seqs: number[] = [];
  private readonly ends: number[] = [];

  /** Records `end` (the offset just past seq's line) if seq is a mark seq; any order, idempotent. */
  note(seq: number, end: number): void {
    if (seq % MARK_EVERY !== 0) return;
    const n = this.seqs.length;
    if (n === 0 || this.seqs[n - 1]! < seq) {
      this.seqs.push(seq);
      this.ends.push(end);
      return;
    }
    const at = this.firstAtOrAfter(seq);
    if (this.seqs[at] === seq) return;
    // Found out of order (a scan of older bytes after the tail was indexed): rare, so a splice is fine.
    this.seqs.splice(at, 0, seq);
    this.ends.splice(at, 0, end);
  }

  /** The greatest mark at or before `seq`, or null. */
  floor(seq: number): { seq: number; end: number } | null {
    let at = this.firstAtOrAfter(seq);
    if (at < this.seqs.length && this.seqs[at] === seq) return { seq, end: this.ends[at]! };
    at--;
    return at >= 0 ? { seq: this.seqs[at]!, end: this.ends[at]! } : null;
  }

  get size(): number {
    return this.seqs.length;
  }

  private firstAtOrAfter(seq: number): number {
    let lo = 0;
    let hi = this.seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.seqs[mid]! < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Marks for a batch of events `firstSeq..lastSeq` written at `start`: its lines end at each newline of `buf`. */
export function noteBatch(marks: SeqMarks, firstSeq: number, lastSeq: number, buf: Buffer, start: number): void {
  if (Math.ceil(firstSeq / MARK_EVERY) * MARK_EVERY > lastSeq) return;
  let seq = firstSeq;
  for (let nl = buf.indexOf(0x0a); nl !== -1; nl = buf.indexOf(0x0a, nl + 1), seq++) marks.note(seq, start + nl + 1);
}
