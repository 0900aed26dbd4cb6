/**
 * The file driver: one append-only JSONL log per session plus a journaled listing index, safe for many
 * processes on one machine (kernel-held per-session locks, released when their holder dies: see
 * file/session-lock.ts) and for crashes at any byte (batches are `more`-linked
 * groups, so a torn write is always recognisable and is cut off and quarantined by the next writer).
 *
 * Layout under `dir` (0700): sessions/<id>.jsonl (0600) and <id>.lock, index/journal.jsonl and
 * snapshot.jsonl, quarantine/<id>.<kind>.<stamp>.<random>. Reads never create anything.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isStoredEvent, type StoredEvent } from '../core/events.js';
import {
  CorruptSessionError,
  InvalidInputError,
  LockTimeoutError,
  SessionExistsError,
  SessionNotFoundError,
  StaleSessionError,
  StorageError,
  ThreadloomError,
} from '../core/errors.js';
import { assertSessionId, isValidSessionId } from '../core/ids.js';
import type {
  AppendMode,
  AppendPlan,
  CorruptionReport,
  DriverCapabilities,
  ListQuery,
  ListResult,
  LogTransaction,
  SessionDriver,
  SessionSummary,
} from './driver.js';
import { FileIndex } from './file/index-journal.js';
import { cursorOf } from './file/index-table.js';
import {
  FILE_MODE,
  O_APPEND_FLAGS,
  O_CREATE_APPEND_FLAGS,
  O_READ_FLAGS,
  closeQuietly,
  fsyncDir,
  isErrno,
  lstatOrNull,
  mkdirChain,
  readAt,
  resolveIO,
  sameFile,
  syntheticErrno,
  writeAll,
  type FileIO,
  type ReadCounter,
} from './file/io.js';
import { SessionLocks } from './file/session-lock.js';
import { KeptDescriptors } from './file/kept-descriptors.js';
import { encodeBatch } from './file/log-format.js';
import { inspectCold, scanForward, type PrefixScan } from './file/log-reader.js';
import { SeqMarks, noteBatch } from './file/seq-marks.js';
import { quarantineBytes, quarantineFile } from './file/quarantine.js';

export type { FileIO } from './file/io.js';

export interface FileDriverOptions {
  /** Data directory (the store resolves $THREADLOOM_DIR / ~/.threadloom before calling). */
  dir: string;
  /** 'full' (default) fsyncs every append: survives power loss. 'process' skips fsync: survives kill -9 only. */
  durability?: 'full' | 'process';
  onCorruption?: (report: CorruptionReport) => void;
  /** How long an append waits for a session's write lock before LockTimeoutError. Default 10 000. */
  lockTimeoutMs?: number;
  /** Session locks are held by the kernel and die with their holder; this applies to the listing index's
   *  compaction lock file only: older than this, it is stale even if its pid looks alive (pid reuse).
   *  Default 30 000. */
  lockStaleMs?: number;
  /** Fault-injection seam: every write-path syscall goes through it. */
  io?: Partial<FileIO>;
  /** @internal Tests force index compaction with a small value. Default 10 000. */
  indexCompactMinLines?: number;
}

/** Test and diagnostics counters. */
export interface FileDriverStats {
  /** Bytes read from session logs (reads are incremental: this grows with new bytes, not log size). */
  readonly logBytesRead: number;
  /** Bytes read from the index journal and snapshot. */
  readonly indexBytesRead: number;
}

export interface FileDriver extends SessionDriver {
  readonly dir: string;
  readonly stats: FileDriverStats;
}

export function createFileDriver(options: FileDriverOptions): FileDriver {
  return new FileSessionDriver(options);
}

/**
 * What this process knows about one log file. `validSize`/`headSeq` describe a valid prefix of the
 * file identified by (dev, ino, birthtime); a prefix never changes for the life of an inode (logs are
 * append-only and only bytes past it are ever cut), so it can be trusted until the identity changes.
 */
/** Which file a path named when it was examined (inode numbers are reused: the birth time tells them apart). */
interface FileIdentity {
  dev: number;
  ino: number;
  birthtimeMs: number;
}

/** Logs whose write descriptors stay open between appends (the least recently written are closed). */
const KEPT_WRITE_DESCRIPTORS = 64;

interface LogCache {
  dev: number;
  ino: number;
  birthtimeMs: number;
  /** File size when last examined. Equal to validSize means "no tail", the only state served without a read. */
  size: number;
  /** Byte length of the valid prefix; 0 when the file holds no complete group (empty or torn-only). */
  validSize: number;
  headSeq: number;
  /** seq -> byte offset just past that event's line, for events recently returned or written. */
  offsets: Map<number, number>;
  /** Sparse seq -> offset index of the whole valid prefix seen so far, so a range read starts near its range. */
  marks: SeqMarks;
}

/** A read saw something that looks like damage. Only a lock holder's full scan may call it corruption. */
class SuspectedCorruption extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

const MAX_CACHED_LOGS = 10_000;
const MAX_CACHED_OFFSETS = 16;
const BOUNDED_READ_CHUNK = 32 * 1024;
const O_RDWR_FLAGS = fs.constants.O_RDWR | fs.constants.O_NOFOLLOW;

class FileSessionDriver implements FileDriver {
  readonly name = 'file';
  readonly capabilities: DriverCapabilities = { watch: true, rawRead: true };
  readonly dir: string;
  private readonly sessionsDir: string;
  private readonly quarantineDir: string;
  private readonly io: FileIO;
  private readonly durable: boolean;
  private readonly onCorruption: ((report: CorruptionReport) => void) | undefined;
  private readonly lockTimeoutMs: number;
  private readonly lockStaleMs: number;
  private readonly logCounter: ReadCounter = { bytes: 0 };
  private readonly indexCounter: ReadCounter = { bytes: 0 };
  private readonly caches = new Map<string, LogCache>();
  /** Per-session chain of in-process lock holders, so calls in one process queue instead of polling. */
  private readonly queues = new Map<string, Promise<void>>();
  private readonly locks: SessionLocks;
  /** Logs' write descriptors, kept between appends (see file/kept-descriptors.ts). */
  private readonly writeFds: KeptDescriptors;
  /** Sessions whose index line failed to write after their log write succeeded (reported as stale). */
  private readonly indexFailures = new Set<string>();
  private readonly index: FileIndex;
  private dirsReady = false;
  private orphanScanDone = false;

  constructor(options: FileDriverOptions) {
    if (!options || typeof options.dir !== 'string' || options.dir.length === 0) {
      throw new InvalidInputError('dir', 'must be a non-empty path');
    }
    if (options.durability !== undefined && options.durability !== 'full' && options.durability !== 'process') {
      throw new InvalidInputError('durability', "must be 'full' or 'process'");
    }
    this.dir = path.resolve(options.dir);
    this.sessionsDir = path.join(this.dir, 'sessions');
    this.quarantineDir = path.join(this.dir, 'quarantine');
    this.io = resolveIO(options.io);
    this.durable = (options.durability ?? 'full') === 'full';
    this.onCorruption = options.onCorruption;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
    this.lockStaleMs = options.lockStaleMs ?? 30_000;
    this.locks = new SessionLocks(this.io);
    this.writeFds = new KeptDescriptors(this.io, KEPT_WRITE_DESCRIPTORS);
    this.index = new FileIndex({
      dir: this.dir,
      io: this.io,
      durable: this.durable,
      lockStaleMs: this.lockStaleMs,
      counter: this.indexCounter,
      compactMinLines: options.indexCompactMinLines ?? 10_000,
    });
  }

  get stats(): FileDriverStats {
    return { logBytesRead: this.logCounter.bytes, indexBytesRead: this.indexCounter.bytes };
  }

  // ---- reads -----------------------------------------------------------------------------------

  async head(id: string): Promise<number | null> {
    assertSessionId(id);
    return this.readOp(id, () => {
      const c = this.refresh(id);
      return c && c.validSize > 0 ? c.headSeq : null;
    });
  }

  async readEvents(id: string, afterSeq: number, untilSeq?: number, limit?: number): Promise<StoredEvent[] | null> {
    assertSessionId(id);
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) throw new InvalidInputError('afterSeq', 'must be an integer >= 0');
    if (untilSeq !== undefined && (!Number.isSafeInteger(untilSeq) || untilSeq < 0)) {
      throw new InvalidInputError('untilSeq', 'must be an integer >= 0');
    }
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) throw new InvalidInputError('limit', 'must be an integer >= 1');
    return this.readOp(id, () => this.readRange(id, afterSeq, untilSeq ?? Number.POSITIVE_INFINITY, limit ?? Number.POSITIVE_INFINITY));
  }

  /**
   * Runs a synchronous read without the lock. If it suspects damage, the verdict is left to a full
   * scan under the session lock: an unlocked reader may be looking at another writer's repair in
   * progress and must never quarantine on its own.
   */
  private async readOp<T>(id: string, fn: () => T): Promise<T> {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof SuspectedCorruption)) throw asStorageError('read log', err);
    }
    return this.withLock(id, false, () => {
      try {
        this.settle(id);
        return fn();
      } catch (err) {
        if (err instanceof SuspectedCorruption) this.quarantineCorrupt(id, err.reason);
        throw asStorageError('read log', err);
      }
    });
  }

  /**
   * One lstat of a log: null when there is none (its cache is dropped); `fresh` is the cache entry when
   * it still describes the whole file, so the caller needs no read at all.
   */
  private statLog(id: string): { fresh: LogCache | null } | null {
    const st = this.lstatLog(this.logPath(id));
    if (!st) {
      this.caches.delete(id);
      return null;
    }
    const c = this.caches.get(id);
    return { fresh: c && sameFile(c, st) && st.size === c.size && c.size === c.validSize ? c : null };
  }

  /** Opens a log for reading, with its cache entry only if that still fits the opened file. */
  private openLog(id: string): { fd: number; fst: fs.Stats; c: LogCache | undefined } | null {
    const fd = this.openLogForRead(this.logPath(id));
    if (fd === null) {
      this.caches.delete(id);
      return null;
    }
    let c = this.caches.get(id);
    try {
      const fst = fs.fstatSync(fd);
      // Replaced (another inode) or cut shorter than what we validated: start over.
      if (c && !(sameFile(c, fst) && fst.size >= c.validSize)) {
        this.caches.delete(id);
        c = undefined;
      }
      return { fd, fst, c };
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  /** The up-to-date cache entry for a log (null: no file). Reads only bytes it has not validated yet. */
  private refresh(id: string): LogCache | null {
    const seen = this.statLog(id);
    if (!seen) return null;
    if (seen.fresh) return this.touch(id, seen.fresh);
    const opened = this.openLog(id);
    if (!opened) return null;
    const { fd, fst } = opened;
    let { c } = opened;
    try {
      if (c) {
        const r = scanForward({
          fd,
          start: c.validSize,
          limit: fst.size,
          expectedSeq: c.validSize > 0 ? c.headSeq + 1 : null,
          counter: this.logCounter,
          marks: c.marks,
        });
        if (r.status === 'damage') {
          this.caches.delete(id);
          throw new SuspectedCorruption(r.reason);
        }
        this.advance(c, r, fst.size);
        return this.touch(id, c);
      }
      const r = inspectCold(fd, fst.size, this.logCounter);
      if (r.status === 'damage') throw new SuspectedCorruption(r.reason);
      return this.remember(id, fst, r);
    } finally {
      fs.closeSync(fd);
    }
  }

  private readRange(id: string, afterSeq: number, untilSeq: number, limit = Number.POSITIVE_INFINITY): StoredEvent[] | null {
    const seen = this.statLog(id);
    if (!seen) return null;
    if (seen.fresh) {
      if (seen.fresh.validSize === 0) return null;
      if (afterSeq >= seen.fresh.headSeq || untilSeq <= afterSeq) return [];
    }
    const opened = this.openLog(id);
    if (!opened) return null;
    const { fd, fst } = opened;
    let { c } = opened;
    try {
      let start = 0;
      let expectedSeq: number | null = null;
      if (c && afterSeq > 0) {
        // Resume from the nearest known position at or before afterSeq; earlier events are skipped.
        let bestSeq = 0;
        let bestOffset = 0;
        if (c.validSize > 0 && c.headSeq <= afterSeq) {
          bestSeq = c.headSeq;
          bestOffset = c.validSize;
        } else {
          const mark = c.marks.floor(afterSeq);
          if (mark) {
            bestSeq = mark.seq;
            bestOffset = mark.end;
          }
          for (const [seq, offset] of c.offsets) {
            if (seq <= afterSeq && seq > bestSeq) {
              bestSeq = seq;
              bestOffset = offset;
            }
          }
        }
        if (bestSeq > 0) {
          start = bestOffset;
          expectedSeq = bestSeq + 1;
        }
      }
      const marks = c ? c.marks : new SeqMarks();
      const out: StoredEvent[] = [];
      let wanted = 0;
      let lastOut = -1;
      let lastOutEnd = -1;
      const r = scanForward({
        fd,
        start,
        limit: fst.size,
        expectedSeq,
        counter: this.logCounter,
        marks,
        // A bounded range (a page, a fold chunk) is read in small steps: no whole-file-sized buffer.
        ...(untilSeq !== Number.POSITIVE_INFINITY || limit !== Number.POSITIVE_INFINITY ? { chunk: BOUNDED_READ_CHUNK } : {}),
        trustedEnd: c ? c.validSize : 0,
        skipThrough: afterSeq,
        want: (e) => e.seq > afterSeq && e.seq <= untilSeq && wanted++ < limit,
        onGroup: (events, ends, lastSeq) => {
          for (let i = 0; i < events.length && out.length < limit; i++) {
            out.push(events[i]!);
            lastOut = events[i]!.seq;
            lastOutEnd = ends[i]!;
          }
          return lastSeq >= untilSeq || out.length >= limit;
        },
      });
      if (r.status === 'damage') {
        this.caches.delete(id);
        throw new SuspectedCorruption(r.reason);
      }
      if (c) this.advance(c, r, fst.size);
      else c = this.remember(id, fst, r, marks);
      if (c.validSize === 0) return null;
      if (lastOut > 0) setOffset(c, lastOut, lastOutEnd);
      return out;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Full forward scan under the lock: the only place a log is judged corrupt (and quarantined). */
  private settle(id: string): LogCache | null {
    this.caches.delete(id);
    const file = this.logPath(id);
    if (!this.lstatLog(file)) return null;
    const fd = this.openLogForRead(file);
    if (fd === null) return null;
    let r;
    let fst: fs.Stats;
    const marks = new SeqMarks();
    try {
      fst = fs.fstatSync(fd);
      r = scanForward({ fd, start: 0, limit: fst.size, expectedSeq: null, counter: this.logCounter, marks });
    } finally {
      fs.closeSync(fd);
    }
    if (r.status === 'damage') this.quarantineCorrupt(id, r.reason);
    return this.remember(id, fst, r, marks);
  }

  private remember(id: string, st: fs.Stats, r: PrefixScan, marks = new SeqMarks()): LogCache {
    const c: LogCache = {
      dev: st.dev,
      ino: st.ino,
      birthtimeMs: st.birthtimeMs,
      size: st.size,
      validSize: r.end,
      headSeq: r.lastSeq ?? 0,
      offsets: new Map(),
      marks,
    };
    this.caches.set(id, c);
    if (this.caches.size > MAX_CACHED_LOGS) this.caches.delete(this.caches.keys().next().value!);
    return c;
  }

  private advance(c: LogCache, r: PrefixScan, size: number): void {
    if (r.end > c.validSize) {
      c.validSize = r.end;
      c.headSeq = r.lastSeq ?? 0;
    }
    c.size = size;
  }

  /** Least-recently-used order for the bounded cache map. */
  private touch(id: string, c: LogCache): LogCache {
    this.caches.delete(id);
    this.caches.set(id, c);
    return c;
  }

  private lstatLog(file: string): fs.Stats | null {
    const st = lstatOrNull(file);
    if (st && !st.isFile()) {
      throw new StorageError('open log', syntheticErrno(st.isSymbolicLink() ? 'ELOOP' : 'EISDIR', `${file} is not a regular file`));
    }
    return st;
  }

  private openLogForRead(file: string): number | null {
    try {
      return fs.openSync(file, O_READ_FLAGS);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return null;
      throw new StorageError('open log', err);
    }
  }

  // ---- the write path --------------------------------------------------------------------------

  async append(id: string, mode: AppendMode, plan: (tx: LogTransaction) => Promise<AppendPlan | null>): Promise<StoredEvent[]> {
    assertSessionId(id);
    if (mode !== 'create' && mode !== 'update') throw new InvalidInputError('mode', "must be 'create' or 'update'");
    if (typeof plan !== 'function') throw new InvalidInputError('plan', 'must be a function');
    // An update never creates directories: without them its lock file cannot be created (ENOENT).
    return this.withLock(id, mode === 'create', () => this.appendLocked(id, mode, plan), true);
  }

  private async appendLocked(
    id: string,
    mode: AppendMode,
    plan: (tx: LogTransaction) => Promise<AppendPlan | null>,
  ): Promise<StoredEvent[]> {
    let c = this.lockedView(id, mode);
    if (mode === 'create') {
      if (c && c.validSize > 0) throw new SessionExistsError(id);
      if (c && c.size > 0) {
        // A creator died mid-write: nothing of it was ever visible. Keep its bytes, take the id over.
        this.quarantineWhole(id, 'torn-tail', `incomplete first write (${c.size} bytes) of a creator that died`);
        c = null;
      }
    } else {
      if (!c || c.validSize === 0) throw new SessionNotFoundError(id);
      if (c.size > c.validSize) this.repairTail(id, c);
    }
    const headSeq = c && c.validSize > 0 ? c.headSeq : 0;
    /** A verdict scan ran inside the plan (it may have cut or moved the file): `c` may describe it no more. */
    let settled = false;
    const tx: LogTransaction = {
      headSeq,
      readAfter: async (afterSeq: number, untilSeq = headSeq) => {
        if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) throw new InvalidInputError('afterSeq', 'must be an integer >= 0');
        const until = Math.min(headSeq, untilSeq);
        if (headSeq === 0 || afterSeq >= until) return [];
        try {
          return this.readRange(id, afterSeq, until) ?? [];
        } catch (err) {
          if (!(err instanceof SuspectedCorruption)) throw asStorageError('read log', err);
          settled = true;
          this.settle(id);
          return this.readRange(id, afterSeq, until) ?? [];
        }
      },
    };
    const p = await plan(tx);
    if (p === null) return [];
    validatePlan(id, mode, headSeq, p);
    const buf = encodeBatch(p.events);
    const prevSize = c ? c.validSize : 0;
    if (settled) this.writeFds.drop(id);
    const st = this.writeBatch(id, mode, buf, c);
    const last = p.events[p.events.length - 1]!;
    const newSize = prevSize + buf.length;
    const kept = c && sameFile(c, st) ? c : null;
    const next: LogCache = kept ?? {
      dev: st.dev,
      ino: st.ino,
      birthtimeMs: st.birthtimeMs,
      size: 0,
      validSize: 0,
      headSeq: 0,
      offsets: new Map(),
      marks: new SeqMarks(),
    };
    if (next.validSize > 0) setOffset(next, next.headSeq, next.validSize);
    next.size = newSize;
    next.validSize = newSize;
    next.headSeq = last.seq;
    setOffset(next, last.seq, newSize);
    noteBatch(next.marks, p.events[0]!.seq, last.seq, buf, prevSize);
    this.caches.set(id, next);
    try {
      this.index.appendSummary(p.summary, newSize);
      this.indexFailures.delete(id);
    } catch {
      // The log is the truth and is already written; list() reports this id as stale until repaired.
      this.indexFailures.add(id);
    }
    return p.events;
  }

  /**
   * Appends one batch with a single write, through the log's kept descriptor when `c` (refreshed under
   * the lock, so its identity is the path's) is the file that descriptor was opened on. On any failure
   * the file is cut back to its previous size (a created file is unlinked) so no partial batch is ever
   * visible, then StorageError is thrown. Returns the identity of the file written.
   */
  private writeBatch(id: string, mode: AppendMode, buf: Buffer, c: LogCache | null): FileIdentity {
    const { io } = this;
    const file = this.logPath(id);
    const creating = mode === 'create';
    const prevSize = c ? c.validSize : 0;
    const keptFd = c && !creating ? this.writeFds.get(id, c) : null;
    let fd: number | null = keptFd;
    let identity: FileIdentity | null = keptFd !== null ? c : null;
    try {
      let size: number;
      if (fd === null) {
        fd = io.openSync(file, creating ? O_CREATE_APPEND_FLAGS : O_APPEND_FLAGS, FILE_MODE);
        const st = io.fstatSync(fd);
        identity = { dev: st.dev, ino: st.ino, birthtimeMs: st.birthtimeMs };
        size = st.size;
      } else size = c!.size;
      if (size !== prevSize) {
        // Someone wrote without the lock: touching the file now could destroy their bytes.
        this.closeWriteFd(id, fd, keptFd);
        fd = null;
        this.caches.delete(id);
        throw new StorageError('append', syntheticErrno('EBUSY', `log is ${size} bytes, expected ${prevSize}`));
      }
      writeAll(io, fd, buf);
      if (this.durable) {
        io.fsyncSync(fd);
        if (creating) fsyncDir(io, this.sessionsDir);
      }
    } catch (err) {
      if (fd !== null) {
        try {
          if (creating && prevSize === 0) io.unlinkSync(file);
          else {
            io.ftruncateSync(fd, prevSize);
            if (this.durable) io.fsyncSync(fd);
          }
        } catch {
          // The partial batch lacks its last line, so readers ignore it; the next append cuts it off.
        }
        this.closeWriteFd(id, fd, keptFd);
      }
      this.caches.delete(id);
      throw asStorageError('append', err);
    }
    if (keptFd === null) this.writeFds.keep(id, fd, identity!);
    return identity!;
  }

  /** Closes a log's write descriptor after a failure: a kept one is forgotten too. */
  private closeWriteFd(id: string, fd: number, keptFd: number | null): void {
    if (fd === keptFd) this.writeFds.drop(id);
    else closeQuietly(this.io, fd);
  }

  /** refresh() under the lock, escalating a suspicion to a verdict. */
  private lockedView(id: string, mode: AppendMode): LogCache | null {
    try {
      return this.refresh(id);
    } catch (err) {
      if (!(err instanceof SuspectedCorruption)) throw asStorageError('read log', err);
    }
    try {
      return this.settle(id);
    } catch (err) {
      // The damaged file has been moved aside and reported: a create may now take the id.
      if (mode === 'create' && err instanceof CorruptSessionError) return null;
      throw err;
    }
  }

  /** Cuts a torn tail (a writer died mid-batch) after copying its bytes to quarantine. Under the lock. */
  private repairTail(id: string, c: LogCache): void {
    const { io } = this;
    const file = this.logPath(id);
    let fd: number | null = null;
    try {
      fd = io.openSync(file, O_RDWR_FLAGS);
      const st = io.fstatSync(fd);
      const len = st.size - c.validSize;
      if (!sameFile(c, st) || len <= 0) {
        this.caches.delete(id);
        if (len <= 0 && sameFile(c, st)) return;
        throw new StorageError('repair torn tail', syntheticErrno('EBUSY', 'log replaced while locked'));
      }
      const bytes = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        const n = readAt(fd, bytes, got, len - got, c.validSize + got, this.logCounter);
        if (n === 0) break;
        got += n;
      }
      const tail = bytes.subarray(0, got);
      const target = quarantineBytes(io, this.quarantineDir, id, 'torn-tail', tail, this.durable);
      io.ftruncateSync(fd, c.validSize);
      if (this.durable) io.fsyncSync(fd);
      c.size = c.validSize;
      this.report({
        sessionId: id,
        kind: 'torn-tail',
        reason: `incomplete last write (${got} bytes after seq ${c.headSeq}) cut off`,
        quarantinedTo: target,
      });
    } catch (err) {
      this.caches.delete(id);
      throw asStorageError('repair torn tail', err);
    } finally {
      closeQuietly(io, fd);
    }
  }

  /** Moves a corrupt log aside, drops it from the index, reports it, and throws CorruptSessionError. Under the lock. */
  private quarantineCorrupt(id: string, reason: string): never {
    this.caches.delete(id);
    const target = this.quarantineWhole(id, 'corrupt-log', reason);
    throw new CorruptSessionError(id, reason, target);
  }

  private quarantineWhole(id: string, kind: 'torn-tail' | 'corrupt-log', reason: string): string {
    this.writeFds.drop(id);
    let target: string;
    try {
      target = quarantineFile(this.io, this.quarantineDir, id, kind, this.logPath(id), this.durable);
    } catch (err) {
      throw asStorageError('quarantine log', err);
    } finally {
      this.caches.delete(id);
    }
    if (kind === 'corrupt-log') {
      try {
        this.index.appendRemoved(id, true);
      } catch {
        // list() skips entries whose log is gone and reports them as stale.
      }
    }
    this.report({ sessionId: id, kind, reason, quarantinedTo: target });
    return target;
  }

  private report(r: CorruptionReport): void {
    try {
      this.onCorruption?.(r);
    } catch {
      // A failing hook must not turn a successful repair into a failed operation.
    }
  }

  /**
   * Serialises holders of one session's lock: first among this driver's own calls (a promise chain, no
   * polling), then across processes (the kernel lock). `lockTimeoutMs` covers both waits. `leavesLog`:
   * when `fn` succeeds the session certainly has a log (an append), so its lock file is kept without
   * looking; after anything else the lock file is removed if the session has no log.
   */
  private async withLock<T>(id: string, createDirs: boolean, fn: () => Promise<T> | T, leavesLog = false): Promise<T> {
    const started = Date.now();
    const prev = this.queues.get(id);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const chained = (prev ?? Promise.resolve()).then(() => mine);
    this.queues.set(id, chained);
    try {
      if (prev) await waitFor(prev, this.lockTimeoutMs, () => new LockTimeoutError(id, Date.now() - started));
      if (createDirs) this.ensureDirs();
      let lock;
      for (let attempt = 0; ; attempt++) {
        try {
          lock = await this.locks.acquire(this.lockPath(id), Math.max(0, this.lockTimeoutMs - (Date.now() - started)), () => new LockTimeoutError(id, Date.now() - started));
          break;
        } catch (err) {
          if (isErrno(err, 'ENOENT')) {
            // No sessions directory: nothing to update. Or it was removed under us; a create may
            // recreate it, once.
            this.dirsReady = false;
            if (!createDirs) throw new SessionNotFoundError(id);
            if (createDirs && attempt === 0) {
              this.ensureDirs();
              continue;
            }
          }
          throw asStorageError('lock', err);
        }
      }
      let logKnown = false;
      try {
        const result = await fn();
        logKnown = leavesLog;
        return result;
      } finally {
        this.locks.release(lock, !logKnown && lstatOrNull(this.logPath(id)) === null);
      }
    } finally {
      release();
      if (this.queues.get(id) === chained) this.queues.delete(id);
    }
  }

  private ensureDirs(): void {
    if (this.dirsReady && fs.existsSync(this.sessionsDir)) return;
    try {
      mkdirChain(this.io, this.sessionsDir, this.durable);
    } catch (err) {
      throw new StorageError('create directories', err);
    }
    this.dirsReady = true;
  }

  // ---- the listing index -----------------------------------------------------------------------

  async list(query: ListQuery): Promise<ListResult> {
    validateQuery(query);
    try {
      this.index.catchUp();
    } catch (err) {
      throw asStorageError('read index', err);
    }
    const page = this.index.table.page(query);
    const sessions: SessionSummary[] = [];
    const stale = new Set(this.indexFailures);
    for (const id of this.unindexedLogs()) stale.add(id);
    for (const entry of page.entries) {
      const id = entry.summary.id;
      let size: number | null;
      try {
        size = this.lstatLog(this.logPath(id))?.size ?? null;
      } catch {
        size = -1;
      }
      if (size === null) {
        // A ghost: its log was removed or quarantined but the removal line was lost. Never list it.
        await this.dropGhost(id);
        continue;
      }
      if (size !== entry.logSize) {
        let h: number | null;
        try {
          h = await this.head(id);
        } catch (err) {
          if (err instanceof CorruptSessionError) continue; // quarantined and unindexed just now
          stale.add(id);
          sessions.push({ ...entry.summary });
          continue;
        }
        if (h === null) continue; // the log holds no complete event (yet): nothing to list
        if (h !== entry.summary.headSeq) stale.add(id);
      }
      sessions.push({ ...entry.summary });
    }
    const last = page.entries[page.entries.length - 1];
    const result: ListResult = { sessions, next: page.more && last ? cursorOf(last.summary) : null };
    if (stale.size > 0) result.staleIds = [...stale];
    return result;
  }

  /**
   * Once per instance: logs the index has never heard of (a writer died between its log write and its
   * index write on create). Only directory names are read. Each is reported once through staleIds.
   */
  private unindexedLogs(): string[] {
    if (this.orphanScanDone) return [];
    this.orphanScanDone = true;
    let names: string[];
    try {
      names = fs.readdirSync(this.sessionsDir);
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const name of names) {
      if (!name.endsWith('.jsonl')) continue;
      const id = name.slice(0, -'.jsonl'.length);
      if (isValidSessionId(id) && this.index.table.get(id) === undefined) out.push(id);
    }
    return out;
  }

  /** Writes the lost removal line of an index entry whose log is gone (checked again under the lock). */
  private async dropGhost(id: string): Promise<void> {
    try {
      await this.withLock(id, false, () => {
        if (lstatOrNull(this.logPath(id)) === null) this.index.appendRemoved(id, true);
      });
    } catch {
      // Best effort: the entry is skipped either way and retried on the next listing.
    }
  }

  async findByShareTokenHash(tokenHash: string): Promise<string | null> {
    if (typeof tokenHash !== 'string' || tokenHash.length === 0) throw new InvalidInputError('tokenHash', 'must be a non-empty string');
    try {
      this.index.catchUp();
    } catch (err) {
      throw asStorageError('read index', err);
    }
    return this.index.table.findShare(tokenHash);
  }

  async *listLogIds(): AsyncIterable<string> {
    let names: string[];
    try {
      names = fs.readdirSync(this.sessionsDir);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return;
      throw new StorageError('list logs', err);
    }
    for (const name of names) {
      if (!name.endsWith('.jsonl')) continue;
      const id = name.slice(0, -'.jsonl'.length);
      if (isValidSessionId(id)) yield id;
    }
  }

  async putSummary(summary: SessionSummary): Promise<void> {
    if (typeof summary !== 'object' || summary === null) throw new InvalidInputError('summary', 'must be an object');
    const id = summary.id;
    assertSessionId(id, 'summary.id');
    if (!Number.isSafeInteger(summary.headSeq)) throw new InvalidInputError('summary.headSeq', 'must be an integer');
    if (!fs.existsSync(this.sessionsDir)) throw new SessionNotFoundError(id);
    await this.withLock(id, false, () => {
      const c = this.lockedView(id, 'update');
      if (!c || c.validSize === 0) throw new SessionNotFoundError(id);
      // Under the lock no append can race us, so a mismatch means the summary is already outdated.
      if (c.headSeq !== summary.headSeq) throw new StaleSessionError(id, summary.headSeq, c.headSeq);
      try {
        this.index.appendSummary(summary, c.size);
      } catch (err) {
        throw new StorageError('write index', err);
      }
      this.indexFailures.delete(id);
    });
  }

  async remove(id: string): Promise<void> {
    assertSessionId(id);
    if (!fs.existsSync(this.dir)) return;
    const write = () => {
      try {
        this.index.appendRemoved(id, true);
      } catch (err) {
        throw new StorageError('write index', err);
      }
      this.indexFailures.delete(id);
    };
    if (!fs.existsSync(this.sessionsDir)) return write();
    await this.withLock(id, false, () => {
      let removed = false;
      this.writeFds.drop(id);
      try {
        this.io.unlinkSync(this.logPath(id));
        removed = true;
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw new StorageError('remove log', err);
      } finally {
        this.caches.delete(id);
      }
      if (removed && this.durable) {
        try {
          fsyncDir(this.io, this.sessionsDir);
        } catch (err) {
          throw new StorageError('remove log', err);
        }
      }
      write();
    });
  }

  async close(): Promise<void> {
    this.stopWatching();
    this.locks.closeAll();
    this.writeFds.closeAll();
    this.index.close();
    this.caches.clear();
  }

  // ---- change notifications ----------------------------------------------------------------------

  private watcher: fs.FSWatcher | null = null;
  private poller: NodeJS.Timeout | null = null;
  private readonly subscribers = new Map<string, Set<() => void>>();

  /**
   * One inotify watch on sessions/ serves every subscription of this driver (a log's append is a
   * modify event on its name). A slow poll backs it up: notifications may be lost on some
   * filesystems, and a spurious wake-up only costs the subscriber one stat.
   */
  async subscribe(id: string, onChange: () => void): Promise<() => Promise<void>> {
    assertSessionId(id);
    if (!this.watcher) {
      // Persistent while anyone subscribes: a `for await (… of store.watch(id))` keeps the process alive.
      this.watcher = fs.watch(this.sessionsDir, (_event, filename) => {
        const name = filename?.toString();
        if (!name || !name.endsWith('.jsonl')) return;
        for (const cb of this.subscribers.get(name.slice(0, -'.jsonl'.length)) ?? []) cb();
      });
      this.watcher.on('error', () => this.stopWatching());
      this.poller = setInterval(() => {
        for (const set of this.subscribers.values()) for (const cb of set) cb();
      }, WATCH_POLL_MS);
    }
    const set = this.subscribers.get(id) ?? new Set();
    set.add(onChange);
    this.subscribers.set(id, set);
    return async () => {
      set.delete(onChange);
      if (set.size === 0) this.subscribers.delete(id);
      if (this.subscribers.size === 0) this.stopWatching();
    };
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
  }

  // Plain concatenation (no path.join on every append): a valid id never holds a separator or dots only.
  private logPath(id: string): string {
    return `${this.sessionsDir}${path.sep}${id}.jsonl`;
  }

  private lockPath(id: string): string {
    return `${this.sessionsDir}${path.sep}${id}.lock`;
  }
}

const WATCH_POLL_MS = 1000;

function setOffset(c: LogCache, seq: number, offset: number): void {
  c.offsets.delete(seq);
  c.offsets.set(seq, offset);
  if (c.offsets.size > MAX_CACHED_OFFSETS) c.offsets.delete(c.offsets.keys().next().value!);
}

function asStorageError(operation: string, err: unknown): Error {
  if (err instanceof ThreadloomError || err instanceof SuspectedCorruption) return err;
  return new StorageError(operation, err);
}

function waitFor(p: Promise<void>, ms: number, onTimeout: () => Error): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    p.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function validatePlan(id: string, mode: AppendMode, headSeq: number, p: AppendPlan): void {
  if (typeof p !== 'object' || p === null) throw new InvalidInputError('plan', 'must return an object or null');
  const events = p.events;
  if (!Array.isArray(events) || events.length === 0) throw new InvalidInputError('plan.events', 'must be a non-empty array');
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (!isStoredEvent(e)) throw new InvalidInputError(`plan.events[${i}]`, 'is not a stored event');
    if (i === 0) {
      if (mode === 'update' && e.seq !== headSeq + 1) {
        throw new InvalidInputError('plan.events[0].seq', `must be ${headSeq + 1} (the log is at seq ${headSeq}), got ${e.seq}`);
      }
      if (mode === 'create' && e.type !== 'session.created') {
        throw new InvalidInputError('plan.events[0].type', `a new log must start with session.created, got ${e.type}`);
      }
    } else if (e.seq !== events[i - 1]!.seq + 1) {
      throw new InvalidInputError(`plan.events[${i}].seq`, `must be ${events[i - 1]!.seq + 1}, got ${e.seq}`);
    }
  }
  if (typeof p.summary !== 'object' || p.summary === null || p.summary.id !== id) {
    throw new InvalidInputError('plan.summary.id', `must be ${JSON.stringify(id)}`);
  }
}

function validateQuery(q: ListQuery): void {
  if (typeof q !== 'object' || q === null) throw new InvalidInputError('query', 'must be an object');
  if (!Number.isSafeInteger(q.limit) || q.limit < 1) throw new InvalidInputError('query.limit', 'must be an integer >= 1');
  if (q.after !== null && q.after !== undefined) {
    if (typeof q.after !== 'object' || typeof q.after.updatedAt !== 'string' || typeof q.after.id !== 'string') {
      throw new InvalidInputError('query.after', 'must be null or {updatedAt, id}');
    }
  }
}
