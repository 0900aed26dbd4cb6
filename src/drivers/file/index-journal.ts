/**
 * The listing index on disk: an append-only journal plus a compacted snapshot, followed incrementally
 * (only the journal's new bytes are read per call) so listing never touches the session logs.
 *
 * Compaction renames journal.jsonl to journal.compacting.jsonl, merges it into snapshot.jsonl and
 * unlinks it. Writers that appended through a descriptor of the renamed file notice (inode check) and
 * append their line again to the new journal; readers finish a rotated journal through their open
 * descriptor and reload everything when the snapshot is replaced.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { SessionSummary } from '../driver.js';
import {
  FILE_MODE,
  O_CREATE_APPEND_FLAGS,
  O_EXCL_FLAGS,
  O_READ_FLAGS,
  closeQuietly,
  fsyncDir,
  isErrno,
  lstatOrNull,
  mkdirChain,
  sameFile,
  writeAll,
  type FileIO,
  type ReadCounter,
} from './io.js';
import { LineReader } from './log-reader.js';
import { releaseLock, tryAcquireLock } from './lock.js';
import { SummaryTable, encodeRemovedLine, encodeSummaryLine, parseIndexLine } from './index-table.js';

export interface FileIndexOptions {
  dir: string;
  io: FileIO;
  durable: boolean;
  lockStaleMs: number;
  counter: ReadCounter;
  /** Compact once the journal holds more than max(this, 4 x entries) lines. */
  compactMinLines: number;
}

interface FileId {
  dev: number;
  ino: number;
  birthtimeMs: number;
}

interface OpenJournal {
  fd: number;
  id: FileId;
  /** Bytes consumed (always a line boundary). */
  offset: number;
  lines: number;
}

/** A catch-up reading more than this re-sorts once instead of inserting line by line. */
const BULK_BYTES = 1 << 20;
const COMPACT_RETRY_MS = 60_000;

const fileId = (st: fs.Stats): FileId => ({ dev: st.dev, ino: st.ino, birthtimeMs: st.birthtimeMs });

export class FileIndex {
  readonly table = new SummaryTable();
  readonly indexDir: string;
  private readonly journalPath: string;
  private readonly compactingPath: string;
  private readonly snapshotPath: string;
  private readonly compactLockPath: string;
  private loaded = false;
  private snapshotId: FileId | null = null;
  private journal: OpenJournal | null = null;
  private appendFd: number | null = null;
  private appendId: FileId | null = null;
  /** Our last append failed part-way: start the next one on a fresh line. */
  private needsNewline = false;
  private dirReady = false;
  private compactFailedAt = 0;

  constructor(private readonly opts: FileIndexOptions) {
    this.indexDir = path.join(opts.dir, 'index');
    this.journalPath = path.join(this.indexDir, 'journal.jsonl');
    this.compactingPath = path.join(this.indexDir, 'journal.compacting.jsonl');
    this.snapshotPath = path.join(this.indexDir, 'snapshot.jsonl');
    this.compactLockPath = path.join(this.indexDir, 'compact.lock');
  }

  // ---- writing -------------------------------------------------------------------------------

  appendSummary(summary: SessionSummary, logSize: number | null): void {
    this.appendLine(encodeSummaryLine(summary, logSize));
  }

  appendRemoved(id: string, onlyIfIndexExists = false): void {
    if (onlyIfIndexExists && !this.dirReady && !fs.existsSync(this.indexDir)) return;
    this.appendLine(encodeRemovedLine(id));
  }

  private appendLine(text: string): void {
    const { io } = this.opts;
    if (!this.dirReady) {
      mkdirChain(io, this.indexDir, this.opts.durable);
      this.dirReady = true;
    }
    const buf = Buffer.from(`${this.needsNewline ? '\n' : ''}${text}\n`, 'utf8');
    // Each pass writes through a descriptor of the current journal; a pass only repeats when a
    // compactor rotated the file between our open and our write.
    for (let attempt = 0; attempt < 8; attempt++) {
      if (this.appendFd === null) {
        let fd: number;
        try {
          fd = io.openSync(this.journalPath, O_CREATE_APPEND_FLAGS, FILE_MODE);
        } catch (err) {
          if (isErrno(err, 'ENOENT')) this.dirReady = false;
          throw err;
        }
        try {
          this.appendId = fileId(io.fstatSync(fd));
        } catch (err) {
          closeQuietly(io, fd);
          throw err;
        }
        this.appendFd = fd;
      }
      try {
        writeAll(io, this.appendFd, buf);
      } catch (err) {
        if (((err as { bytesWritten?: number }).bytesWritten ?? 0) > 0) this.needsNewline = true;
        this.closeAppend();
        throw err;
      }
      this.needsNewline = false;
      const st = lstatOrNull(this.journalPath);
      if (st && sameFile(fileId(st), this.appendId)) return;
      this.closeAppend();
    }
  }

  private closeAppend(): void {
    closeQuietly(this.opts.io, this.appendFd);
    this.appendFd = null;
    this.appendId = null;
  }

  // ---- following -----------------------------------------------------------------------------

  /** Brings the in-memory table up to date with everything on disk. Never creates anything unless it compacts. */
  catchUp(): void {
    if (!this.loaded) {
      this.fullLoad();
    } else {
      const snap = lstatOrNull(this.snapshotPath);
      if (!sameFile(snap && fileId(snap), this.snapshotId)) {
        this.fullLoad();
      } else {
        const st = lstatOrNull(this.journalPath);
        const current = st && fileId(st);
        if (this.journal && !sameFile(current, this.journal.id)) {
          // Rotated by a compactor: what was appended to it before the rename is only there.
          this.readJournal(this.journal);
          this.closeJournal();
        }
        if (!this.journal && current) this.journal = this.openJournal();
        if (this.journal) this.readJournal(this.journal);
        if (!this.loaded) this.fullLoad();
      }
    }
    this.maybeCompact();
  }

  private fullLoad(): void {
    for (let attempt = 0; ; attempt++) {
      this.closeJournal();
      this.table.clear();
      this.table.beginBulk();
      const snapId = this.readWhole(this.snapshotPath);
      const compactingId = this.readWhole(this.compactingPath);
      this.journal = this.openJournal();
      if (this.journal) this.readJournal(this.journal);
      // A compaction that ran while we read may have moved lines between files we had or had not
      // read yet: load again until nothing moved.
      const snapAfter = lstatOrNull(this.snapshotPath);
      const compactingAfter = lstatOrNull(this.compactingPath);
      const stable = sameFile(snapId, snapAfter && fileId(snapAfter)) && sameFile(compactingId, compactingAfter && fileId(compactingAfter));
      if (stable || attempt >= 20) {
        this.snapshotId = snapId;
        break;
      }
    }
    this.table.endBulk();
    this.loaded = true;
  }

  private openJournal(): OpenJournal | null {
    let fd: number;
    try {
      fd = fs.openSync(this.journalPath, O_READ_FLAGS);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return null;
      throw err;
    }
    return { fd, id: fileId(fs.fstatSync(fd)), offset: 0, lines: 0 };
  }

  private closeJournal(): void {
    if (this.journal) fs.closeSync(this.journal.fd);
    this.journal = null;
  }

  private readJournal(j: OpenJournal): void {
    const size = fs.fstatSync(j.fd).size;
    if (size < j.offset) {
      // Journals only grow; a shorter one was rewritten by something else. Start over.
      this.loaded = false;
      return;
    }
    if (size === j.offset) return;
    const bulk = size - j.offset > BULK_BYTES;
    if (bulk) this.table.beginBulk();
    const r = this.readLines(j.fd, j.offset, size);
    j.offset = r.end;
    j.lines += r.lines;
    if (bulk) this.table.endBulk();
  }

  private readWhole(file: string): FileId | null {
    let fd: number;
    try {
      fd = fs.openSync(file, O_READ_FLAGS);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return null;
      throw err;
    }
    try {
      const st = fs.fstatSync(fd);
      this.readLines(fd, 0, st.size);
      return fileId(st);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Applies every complete line of [start, limit); a partial last line is left for the next call. */
  private readLines(fd: number, start: number, limit: number): { end: number; lines: number } {
    const reader = new LineReader(fd, start, limit, this.opts.counter, 256 * 1024);
    let end = start;
    let lines = 0;
    for (let line = reader.next(); line !== null; line = reader.next()) {
      end = line.fileEnd;
      if (line.end === line.start) continue;
      lines++;
      const parsed = parseIndexLine(line.buf.toString('utf8', line.start, line.end));
      if (parsed) this.table.apply(parsed);
    }
    return { end, lines };
  }

  // ---- compaction ----------------------------------------------------------------------------

  private maybeCompact(): void {
    const j = this.journal;
    if (!j || j.lines <= Math.max(this.opts.compactMinLines, 4 * this.table.size)) return;
    if (Date.now() - this.compactFailedAt < COMPACT_RETRY_MS) return;
    try {
      if (this.compact()) this.loaded = false; // our next catch-up reads the new snapshot
    } catch {
      // Compaction is an optimisation: the journal stays correct without it.
      this.compactFailedAt = Date.now();
    }
  }

  /** Returns true when this process compacted. */
  compact(): boolean {
    const { io, durable } = this.opts;
    const lock = tryAcquireLock(this.compactLockPath, { io, staleMs: this.opts.lockStaleMs });
    if (!lock) return false;
    try {
      if (!lstatOrNull(this.compactingPath)) {
        // A compacting file left by a crashed compactor is finished first, without rotating again.
        try {
          io.renameSync(this.journalPath, this.compactingPath);
        } catch (err) {
          if (isErrno(err, 'ENOENT')) return false;
          throw err;
        }
      }
      const merged = new Map<string, string>();
      for (const file of [this.snapshotPath, this.compactingPath]) mergeLines(file, merged, this.opts.counter);
      const tmp = path.join(this.indexDir, `snapshot.${randomBytes(6).toString('hex')}.tmp`);
      const fd = io.openSync(tmp, O_EXCL_FLAGS, FILE_MODE);
      try {
        let chunk: string[] = [];
        let bytes = 0;
        const flush = () => {
          if (chunk.length === 0) return;
          writeAll(io, fd, Buffer.from(chunk.join(''), 'utf8'));
          chunk = [];
          bytes = 0;
        };
        for (const text of merged.values()) {
          chunk.push(text, '\n');
          bytes += text.length + 1;
          if (bytes >= 1 << 20) flush();
        }
        flush();
        if (durable) io.fsyncSync(fd);
      } catch (err) {
        closeQuietly(io, fd);
        try {
          io.unlinkSync(tmp);
        } catch {
          // Leftover tmp files are ignored by readers.
        }
        throw err;
      }
      closeQuietly(io, fd);
      io.renameSync(tmp, this.snapshotPath);
      if (durable) fsyncDir(io, this.indexDir);
      io.unlinkSync(this.compactingPath);
      return true;
    } finally {
      releaseLock(lock, io, this.opts.lockStaleMs);
    }
  }

  close(): void {
    this.closeJournal();
    this.closeAppend();
    this.loaded = false;
    this.table.clear();
  }
}

/** Last line wins per id; removed ids drop out of the snapshot entirely. */
function mergeLines(file: string, merged: Map<string, string>, counter: ReadCounter): void {
  let fd: number;
  try {
    fd = fs.openSync(file, O_READ_FLAGS);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  try {
    const reader = new LineReader(fd, 0, fs.fstatSync(fd).size, counter, 256 * 1024);
    for (let line = reader.next(); line !== null; line = reader.next()) {
      if (line.end === line.start) continue;
      const text = line.buf.toString('utf8', line.start, line.end);
      const parsed = parseIndexLine(text);
      if (!parsed) continue;
      if (parsed.kind === 'remove') {
        merged.delete(parsed.id);
      } else {
        merged.delete(parsed.entry.summary.id); // re-insert so the snapshot keeps last-write order
        merged.set(parsed.entry.summary.id, encodeSummaryLine(parsed.entry.summary, parsed.entry.logSize));
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}
