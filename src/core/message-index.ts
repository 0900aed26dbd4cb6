/**
 * What a fold keeps per message of its own log: the seq and the id, and nothing of the body. Bodies
 * stay in the log and are read per page (see src/core/bodies.ts), so a session of 100 000 messages is
 * held in a few MiB. Ids are packed into one growing buffer (a canonical UUID, as generated ids are,
 * in 16 bytes; any other id as UTF-8) and found through an open-addressing hash table of positions:
 * instead of one JS string and one Map entry per message (~120 bytes) this costs ~40 bytes per
 * message, and lookups stay exact (the candidate's id is compared, never only its hash).
 */
const EMPTY = 0;
/** Tag byte before each packed id. */
const TAG_TEXT = 0;
const TAG_UUID = 1;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Table size / entries kept above this (linear probing stays short at 3/4 full). */
const MAX_LOAD = 0.75;

export class MessageIndex {
  /** seq of the i-th message, strictly increasing. */
  private seqList: Float64Array;
  /** End offset in `idBytes` of the i-th id (its start is the previous end). */
  private idEnds: Uint32Array;
  private idBytes: Buffer;
  private idUsed = 0;
  /** Hash of the i-th id: probes compare it before decoding an id, and a rehash needs no decoding. */
  private hashes: Uint32Array;
  /** Open addressing: position + 1 of a message, or EMPTY. Length is a power of two, at most 3/4 full. */
  private table: Int32Array;
  private count = 0;

  /**
   * `expected`: how many messages the caller expects (a cold fold knows the log's length). Sizing
   * the columns once matters: growing them by copies, 100 000 messages peak ~3x the memory they end in.
   */
  constructor(expected = 0) {
    const capacity = Math.max(16, expected);
    this.seqList = new Float64Array(capacity);
    this.idEnds = new Uint32Array(capacity);
    this.hashes = new Uint32Array(capacity);
    this.idBytes = Buffer.allocUnsafe(capacity * 17); // a packed UUID and its tag
    let size = 32;
    while (size * MAX_LOAD < capacity) size *= 2;
    this.table = new Int32Array(size);
  }

  get length(): number {
    return this.count;
  }

  /** Appends a message; its seq must exceed every seq already held. The caller checks for duplicate ids. */
  push(id: string, seq: number): void {
    const n = this.count;
    if (n > 0 && seq <= this.seqList[n - 1]!) throw new RangeError(`seq ${seq} does not follow ${this.seqList[n - 1]}`);
    if (n === this.seqList.length) {
      const size = Math.ceil(n * 1.5);
      const seqs = new Float64Array(size);
      seqs.set(this.seqList);
      this.seqList = seqs;
      const ends = new Uint32Array(size);
      ends.set(this.idEnds);
      this.idEnds = ends;
      const hashes = new Uint32Array(size);
      hashes.set(this.hashes);
      this.hashes = hashes;
    }
    const uuid = UUID.test(id);
    const bytes = 1 + (uuid ? 16 : Buffer.byteLength(id, 'utf8'));
    if (this.idUsed + bytes > this.idBytes.length) {
      const bigger = Buffer.allocUnsafe(Math.max(Math.ceil(this.idBytes.length * 1.5), this.idUsed + bytes));
      this.idBytes.copy(bigger, 0, 0, this.idUsed);
      this.idBytes = bigger;
    }
    if (uuid) {
      this.idBytes[this.idUsed] = TAG_UUID;
      this.idBytes.write(id.replace(/-/g, ''), this.idUsed + 1, 'hex');
    } else {
      this.idBytes[this.idUsed] = TAG_TEXT;
      this.idBytes.write(id, this.idUsed + 1, 'utf8');
    }
    this.idUsed += bytes;
    const hash = hashId(id);
    this.seqList[n] = seq;
    this.idEnds[n] = this.idUsed;
    this.hashes[n] = hash;
    this.count = n + 1;
    if (this.count > this.table.length * MAX_LOAD) this.rehash(this.table.length * 2);
    else this.insert(hash, n);
  }

  seqAt(position: number): number {
    return this.seqList[position]!;
  }

  idAt(position: number): string {
    const start = position === 0 ? 0 : this.idEnds[position - 1]!;
    const end = this.idEnds[position]!;
    if (this.idBytes[start] === TAG_TEXT) return this.idBytes.toString('utf8', start + 1, end);
    const hex = this.idBytes.toString('hex', start + 1, end);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** Position of the message with this id, or -1. */
  positionOf(id: string): number {
    const mask = this.table.length - 1;
    const hash = hashId(id);
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = this.table[slot]!;
      if (entry === EMPTY) return -1;
      if (this.hashes[entry - 1] === hash && this.idAt(entry - 1) === id) return entry - 1;
    }
  }

  /** Position of the message with this seq, or -1 (binary search: seqs are increasing). */
  positionOfSeq(seq: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const s = this.seqList[mid]!;
      if (s === seq) return mid;
      if (s < seq) lo = mid + 1;
      else hi = mid;
    }
    return -1;
  }

  private insert(hash: number, position: number): void {
    const mask = this.table.length - 1;
    let slot = hash & mask;
    while (this.table[slot] !== EMPTY) slot = (slot + 1) & mask;
    this.table[slot] = position + 1;
  }

  private rehash(size: number): void {
    this.table = new Int32Array(size);
    for (let i = 0; i < this.count; i++) this.insert(this.hashes[i]!, i);
  }
}

/** FNV-1a over UTF-16 code units: cheap, and good enough spread for open addressing. */
function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
