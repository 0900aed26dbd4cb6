/**
 * Finds the valid prefix of a session log without trusting anything past it. Two entry points: a
 * forward scan from a known-good offset (incremental reads, full scans) and a cold inspection that
 * reads only the first line and the last lines, so `head()` of a long log costs O(1) reads.
 */
import type { StoredEvent } from '../../core/events.js';
import { readAt, type ReadCounter } from './io.js';
import { parseLogLine } from './log-format.js';
import type { SeqMarks } from './seq-marks.js';

const FORWARD_CHUNK = 256 * 1024;
const BACKWARD_CHUNK = 16 * 1024;

/**
 * The valid prefix as far as a scan established it. `end` is the byte length of the prefix (0 when no
 * complete group exists: an empty or torn-only file). `tail` says bytes past `end` were seen that do
 * not form a complete group: an in-progress write (for readers) or a torn one (for a lock holder).
 */
export interface PrefixScan {
  status: 'ok';
  end: number;
  lastSeq: number | null;
  tail: boolean;
  /** The scan stopped on request before the end of the file; `tail` is then unknown (false). */
  stopped: boolean;
}

/** A complete line that cannot be part of a valid log, or damage followed by valid events. */
export interface Damage {
  status: 'damage';
  reason: string;
}

export type ScanResult = PrefixScan | Damage;

export interface Line {
  buf: Buffer;
  start: number;
  /** Index of the newline in `buf`. */
  end: number;
  fileStart: number;
  fileEnd: number;
}

/**
 * Yields complete lines of [start, limit) using one buffer that grows only for lines longer than it,
 * reading at most `chunk` bytes at a time. `scratch`, when big enough, is used as that buffer instead of
 * a new one: a reader that lives for one synchronous scan can share it, so thousands of small reads
 * (pages, fold chunks) allocate nothing (per-call buffers fragment the allocator and inflate RSS).
 */
export class LineReader {
  private buf: Buffer;
  private base: number;
  private len = 0;
  private cursor = 0;
  private limit: number;

  constructor(
    private readonly fd: number,
    start: number,
    limit: number,
    private readonly counter: ReadCounter,
    private readonly chunk: number,
    scratch?: Buffer,
  ) {
    this.base = start;
    this.limit = limit;
    const size = Math.max(64, Math.min(chunk, limit - start));
    this.buf = scratch && scratch.length >= size ? scratch : Buffer.allocUnsafe(size);
  }

  next(): Line | null {
    for (;;) {
      const nl = this.buf.indexOf(0x0a, this.cursor);
      if (nl !== -1 && nl < this.len) {
        const start = this.cursor;
        this.cursor = nl + 1;
        return { buf: this.buf, start, end: nl, fileStart: this.base + start, fileEnd: this.base + nl + 1 };
      }
      const filePos = this.base + this.len;
      if (filePos >= this.limit) return null;
      if (this.cursor > 0) {
        this.buf.copy(this.buf, 0, this.cursor, this.len);
        this.len -= this.cursor;
        this.base += this.cursor;
        this.cursor = 0;
      }
      if (this.len === this.buf.length) {
        const bigger = Buffer.allocUnsafe(this.buf.length * 2);
        this.buf.copy(bigger, 0, 0, this.len);
        this.buf = bigger;
      }
      const want = Math.min(this.buf.length - this.len, this.limit - filePos, Math.max(this.chunk, 64));
      const n = readAt(this.fd, this.buf, this.len, want, filePos, this.counter);
      if (n === 0) {
        // The file shrank under us (a lock holder cut a torn tail): stop at what we have.
        this.limit = filePos;
        return null;
      }
      this.len += n;
    }
  }

  /** Bytes read after the last complete line (a partial line at the end). */
  get leftover(): number {
    return this.len - this.cursor;
  }
}

export interface ForwardScanOptions {
  fd: number;
  /** A line boundary: 0, or the end of an event line already validated. */
  start: number;
  /** File size to read up to. */
  limit: number;
  /** Seq the first line must have; null when starting at offset 0 (any seq >= 1, must be session.created). */
  expectedSeq: number | null;
  counter: ReadCounter;
  /**
   * Which events the caller wants, asked once per event in order. Every line is still parsed and
   * checked; unwanted events are dropped at once, so validating a batch of 1 000 to serve 32 holds 32.
   * Default: all.
   */
  want?: (event: StoredEvent) => boolean;
  /** Receives each complete group's wanted events in order, with the byte offset just past each one's line, and the group's last seq; return true to stop after it. */
  onGroup?: (events: StoredEvent[], lineEnds: number[], lastSeq: number) => boolean;
  /** Notes the line end of every event of every complete group (the sparse seq -> offset index). */
  marks?: SeqMarks;
  /**
   * Bytes before this offset were validated already (whole groups): their lines are handed out one by
   * one, without reading on to the end of their group, so a page inside a big batch costs only the page.
   */
  trustedEnd?: number;
  /** Trusted lines with a seq up to this one are skipped unparsed (a read that starts at a mark before its range). */
  skipThrough?: number;
  /** Read size; smaller for a bounded range, so a short read does not allocate a whole-file-sized buffer. */
  chunk?: number;
}

/** Shared by every forward scan: a scan is synchronous and its lines are parsed before it returns. */
let scanScratch: Buffer | null = null;

export function scanForward(opts: ForwardScanOptions): ScanResult {
  scanScratch ??= Buffer.allocUnsafe(FORWARD_CHUNK);
  const reader = new LineReader(opts.fd, opts.start, opts.limit, opts.counter, opts.chunk ?? FORWARD_CHUNK, scanScratch);
  const trustedEnd = opts.trustedEnd ?? 0;
  const skipThrough = opts.skipThrough ?? 0;
  let expected = opts.expectedSeq;
  let end = opts.start;
  let lastSeq: number | null = opts.expectedSeq === null ? null : opts.expectedSeq - 1;
  /** The group being read: every line's seq and end (for marks), and the wanted events. */
  let seqs: number[] = [];
  let lineEnds: number[] = [];
  let kept: StoredEvent[] = [];
  let keptEnds: number[] = [];
  for (;;) {
    const line = reader.next();
    if (line === null) break;
    if (expected !== null && expected <= skipThrough && line.fileEnd <= trustedEnd) {
      // Validated before, one event per line: its seq is known without parsing it.
      end = line.fileEnd;
      lastSeq = expected;
      expected++;
      continue;
    }
    const parsed = parseLogLine(line.buf, line.start, line.end);
    const atFileStart = line.fileStart === 0;
    let problem: string | null = null;
    if (parsed === null) problem = `unreadable line at byte ${line.fileStart}`;
    else if (atFileStart && parsed.event.type !== 'session.created') problem = 'first event is not session.created';
    else if (expected !== null && parsed.event.seq !== expected) {
      problem = `seq ${parsed.event.seq} at byte ${line.fileStart} where ${expected} was expected`;
    }
    if (problem !== null) {
      if (atFileStart) return { status: 'damage', reason: `not a session log: ${problem}` };
      // A group end after the problem means the problem is not a torn last write but damage inside.
      if ((parsed !== null && !parsed.more) || restHasGroupEnd(reader)) {
        return { status: 'damage', reason: `damaged log: ${problem}, followed by valid events` };
      }
      return { status: 'ok', end, lastSeq, tail: true, stopped: false };
    }
    const ev = parsed!.event;
    seqs.push(ev.seq);
    lineEnds.push(line.fileEnd);
    if (!opts.want || opts.want(ev)) {
      kept.push(ev);
      keptEnds.push(line.fileEnd);
    }
    expected = ev.seq + 1;
    if (parsed!.more && line.fileEnd > trustedEnd) continue;
    end = line.fileEnd;
    lastSeq = ev.seq;
    if (opts.marks) for (let i = 0; i < seqs.length; i++) opts.marks.note(seqs[i]!, lineEnds[i]!);
    const done = kept;
    const doneEnds = keptEnds;
    seqs = [];
    lineEnds = [];
    kept = [];
    keptEnds = [];
    if (opts.onGroup?.(done, doneEnds, ev.seq)) return { status: 'ok', end, lastSeq, tail: false, stopped: true };
  }
  const tail = seqs.length > 0 || reader.leftover > 0;
  return { status: 'ok', end, lastSeq, tail, stopped: false };
}

function restHasGroupEnd(reader: LineReader): boolean {
  for (let line = reader.next(); line !== null; line = reader.next()) {
    const parsed = parseLogLine(line.buf, line.start, line.end);
    if (parsed !== null && !parsed.more) return true;
  }
  return false;
}

/**
 * Cold inspection for `head()`: validates the first line, then walks back from EOF to the last line
 * that ends a group. Damage in the middle of the file is not seen here; a full forward scan
 * (`readEvents` from 0) finds it.
 */
export function inspectCold(fd: number, size: number, counter: ReadCounter): ScanResult {
  if (size === 0) return { status: 'ok', end: 0, lastSeq: null, tail: false, stopped: false };
  const reader = new LineReader(fd, 0, size, counter, 4096);
  const first = reader.next();
  if (first === null) return { status: 'ok', end: 0, lastSeq: null, tail: true, stopped: false };
  const parsed = parseLogLine(first.buf, first.start, first.end);
  if (parsed === null || parsed.event.type !== 'session.created') {
    return { status: 'damage', reason: 'not a session log: first line is not a valid session.created event' };
  }
  const last = lastGroupEnd(fd, first.fileEnd, size, counter);
  // Only a lock holder cuts a file; an unlocked reader that sees it shrink re-checks under the lock.
  if (last === 'shrank') return { status: 'damage', reason: 'the log shrank while being read' };
  if (last !== null) {
    if (last.seq < parsed.event.seq) return { status: 'damage', reason: `damaged log: seq ${last.seq} after seq ${parsed.event.seq}` };
    return { status: 'ok', end: last.end, lastSeq: last.seq, tail: last.end < size, stopped: false };
  }
  if (!parsed.more) return { status: 'ok', end: first.fileEnd, lastSeq: parsed.event.seq, tail: first.fileEnd < size, stopped: false };
  return { status: 'ok', end: 0, lastSeq: null, tail: true, stopped: false };
}

/** The last complete line in [floor, size) that is a valid event ending its group. `floor` is a line start. */
function lastGroupEnd(fd: number, floor: number, size: number, counter: ReadCounter): { end: number; seq: number } | 'shrank' | null {
  // `carry` holds bytes [pos, pos + carry.length) whose first line start is not known yet.
  let carry: Buffer = Buffer.alloc(0);
  let pos = size;
  let endIdx = -1; // index (in the current buffer) just past the newline of the next line to examine
  while (pos > floor) {
    const want = Math.min(Math.max(BACKWARD_CHUNK, carry.length), pos - floor);
    const chunk = Buffer.allocUnsafe(want);
    const n = readAt(fd, chunk, 0, want, pos - want, counter);
    if (n < want) return 'shrank';
    const buf = carry.length > 0 ? Buffer.concat([chunk, carry]) : chunk;
    const base = pos - want;
    if (endIdx === -1) {
      // First time we see a newline: bytes after the last one are a partial line and never count.
      const lastNl = buf.lastIndexOf(0x0a);
      if (lastNl === -1) {
        carry = buf;
        pos = base;
        continue;
      }
      endIdx = lastNl + 1;
    } else {
      endIdx += want;
    }
    for (;;) {
      const prevNl = endIdx >= 2 ? buf.lastIndexOf(0x0a, endIdx - 2) : -1;
      if (prevNl === -1 && base > floor) break; // the line's start is in an earlier chunk
      const lineStart = prevNl + 1;
      const parsed = parseLogLine(buf, lineStart, endIdx - 1);
      if (parsed !== null && !parsed.more) return { end: base + endIdx, seq: parsed.event.seq };
      endIdx = lineStart;
      if (lineStart === 0) break;
    }
    carry = buf.subarray(0, endIdx);
    pos = base;
    if (endIdx === 0) {
      // Everything from `base` on has been examined.
      carry = Buffer.alloc(0);
      endIdx = 0;
    }
  }
  return null;
}
