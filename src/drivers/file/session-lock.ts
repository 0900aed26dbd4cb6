/**
 * Per-session write locks between processes: an open-file-description lock (Linux `F_OFD_SETLK`,
 * `flock` on macOS, `LockFileEx` on Windows, through fs-native-extensions) on `sessions/<id>.lock`.
 *
 * Why this and not lock files created with O_EXCL (which lock.ts still provides for rare operations):
 * - the kernel drops the lock when its holder dies, kill -9 included, so a crashed writer never blocks
 *   the others and no lock is ever stolen by guessing whether its owner is alive;
 * - two descriptors conflict even inside one process, so two stores on one directory exclude each other;
 * - an append costs one lock, one lstat and one unlock on a kept-open descriptor, instead of creating,
 *   filling and unlinking a file (directory updates) every time.
 *
 * The lock file stays between appends. A holder that leaves a session without a log removes it (so
 * deleted and never-created ids leave nothing behind), and that is why every acquirer checks, once
 * locked, that the path still names the very file it locked: a lock on a removed file guards nothing.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { DriverUnavailableError } from '../../core/errors.js';
import { closeQuietly, errnoOf, FILE_MODE, sameFile, type FileIO } from './io.js';

/** The part of fs-native-extensions used here: advisory whole-file locks on a descriptor. */
export interface NativeLocks {
  /** One non-blocking attempt; false when another descriptor holds it. */
  tryLock(fd: number): boolean;
  unlock(fd: number): void;
}

let native: NativeLocks | null = null;

/** Loaded on first use, so that a platform without a prebuilt binary can still use every other driver. */
export function nativeLocks(): NativeLocks {
  if (native) return native;
  try {
    native = createRequire(import.meta.url)('fs-native-extensions') as NativeLocks;
  } catch (err) {
    throw new DriverUnavailableError(
      `the file driver's session locks need the 'fs-native-extensions' addon, which did not load on ${process.platform}-${process.arch}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return native;
}

const O_LOCK_FLAGS = fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW;
const BACKOFF_START_MS = 0.5;
const BACKOFF_CAP_MS = 20;
/** Descriptors kept open for sessions not locked right now (least recently used are closed first). */
const KEEP_OPEN = 64;

export interface HeldSessionLock {
  readonly path: string;
  readonly fd: number;
}

interface LockFile {
  fd: number;
  dev: number;
  ino: number;
  birthtimeMs: number;
  held: boolean;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One non-blocking attempt; false when another descriptor holds it (fcntl says EAGAIN or EACCES). */
function tryLock(fd: number): boolean {
  try {
    return nativeLocks().tryLock(fd);
  } catch (err) {
    if (errnoOf(err) === 'EACCES') return false;
    throw err;
  }
}

export class SessionLocks {
  /** By lock path, least recently used first. */
  private readonly files = new Map<string, LockFile>();
  private closed = false;

  constructor(private readonly io: FileIO) {}

  /**
   * Waits (jittered exponential backoff, never spinning) until the lock at `lockPath` is ours or
   * `timeoutMs` passes; `onTimeout` builds the error to throw then. ENOENT means the directory is missing.
   */
  async acquire(lockPath: string, timeoutMs: number, onTimeout: (waitedMs: number) => Error): Promise<HeldSessionLock> {
    const start = Date.now();
    let delay = BACKOFF_START_MS;
    let removedUnderUs = 0;
    for (;;) {
      const file = this.fileFor(lockPath);
      if (tryLock(file.fd)) {
        let named: boolean;
        try {
          named = this.stillNamed(lockPath, file);
        } catch (err) {
          this.drop(lockPath, file); // closing our only descriptor of it releases the lock
          throw err;
        }
        if (named) {
          file.held = true;
          return { path: lockPath, fd: file.fd };
        }
        // Its holder removed the file before releasing it: open the path again. Each round means some
        // other process completed a whole critical section, so this ends; the cap is only a guard.
        this.drop(lockPath, file);
        if (++removedUnderUs < 100) continue;
      }
      const waited = Date.now() - start;
      if (waited >= timeoutMs) throw onTimeout(waited);
      await sleep(Math.min(delay * (0.5 + Math.random()), timeoutMs - waited));
      delay = Math.min(delay * 2, BACKOFF_CAP_MS);
    }
  }

  /**
   * Releases a lock. `removeFile` (the session has no log any more) unlinks the lock file first, while
   * still holding it, so whoever locks the old file next sees it is gone and opens the path again.
   */
  release(lock: HeldSessionLock, removeFile: boolean): void {
    const file = this.files.get(lock.path);
    if (!file || file.fd !== lock.fd) return;
    file.held = false;
    if (removeFile || this.closed) {
      if (removeFile) {
        try {
          this.io.unlinkSync(lock.path);
        } catch {
          // Left behind, it is an ordinary lock file: the next writer locks and reuses it.
        }
      }
      this.drop(lock.path, file);
      return;
    }
    try {
      nativeLocks().unlock(file.fd);
    } catch {
      // Closing our only descriptor of it releases the lock just as surely.
      this.drop(lock.path, file);
    }
  }

  /** Closes the kept descriptors; one locked right now is closed when its holder releases it. */
  closeAll(): void {
    this.closed = true;
    for (const [p, file] of this.files) if (!file.held) this.drop(p, file);
  }

  /**
   * The path still names the file we locked. Inode numbers of removed files are reused, so the birth
   * time must match too; where the filesystem keeps none, our file must also still be linked.
   */
  private stillNamed(lockPath: string, file: LockFile): boolean {
    const st = fs.lstatSync(lockPath, { throwIfNoEntry: false });
    if (!st || !sameFile(st, file)) return false;
    return file.birthtimeMs !== 0 || this.io.fstatSync(file.fd).nlink > 0;
  }

  private fileFor(lockPath: string): LockFile {
    const cached = this.files.get(lockPath);
    if (cached) {
      this.files.delete(lockPath);
      this.files.set(lockPath, cached);
      return cached;
    }
    const fd = this.io.openSync(lockPath, O_LOCK_FLAGS, FILE_MODE);
    let st: fs.Stats;
    try {
      st = this.io.fstatSync(fd);
    } catch (err) {
      closeQuietly(this.io, fd);
      throw err;
    }
    const file: LockFile = { fd, dev: st.dev, ino: st.ino, birthtimeMs: st.birthtimeMs, held: false };
    this.files.set(lockPath, file);
    this.evictBut(lockPath);
    return file;
  }

  /** Closes the least recently used descriptors not locked right now, never `keep`'s. */
  private evictBut(keep: string): void {
    if (this.files.size <= KEEP_OPEN) return;
    for (const [p, file] of this.files) {
      if (this.files.size <= KEEP_OPEN) return;
      if (!file.held && p !== keep) this.drop(p, file);
    }
  }

  private drop(lockPath: string, file: LockFile): void {
    if (this.files.get(lockPath) === file) this.files.delete(lockPath);
    closeQuietly(this.io, file.fd);
  }
}
