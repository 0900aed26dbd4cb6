/**
 * The syscall seam of the file driver. Every call that changes the disk goes through a FileIO so tests
 * can inject ENOSPC/EIO/EACCES/EMFILE at any step; reads use node:fs directly (they cannot damage data).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The node:fs sync functions the file driver uses on its write path. */
export interface FileIO {
  openSync(path: string, flags: number, mode?: number): number;
  writeSync(fd: number, buffer: Uint8Array, offset?: number, length?: number, position?: number | null): number;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  ftruncateSync(fd: number, len?: number): void;
  fstatSync(fd: number): fs.Stats;
  renameSync(oldPath: string, newPath: string): void;
  unlinkSync(path: string): void;
  mkdirSync(path: string, options: { mode: number }): unknown;
}

export const nodeIO: FileIO = {
  openSync: (p, flags, mode) => fs.openSync(p, flags, mode),
  writeSync: (fd, buffer, offset, length, position) => fs.writeSync(fd, buffer, offset, length, position),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  closeSync: (fd) => fs.closeSync(fd),
  ftruncateSync: (fd, len) => fs.ftruncateSync(fd, len),
  fstatSync: (fd) => fs.fstatSync(fd),
  renameSync: (a, b) => fs.renameSync(a, b),
  unlinkSync: (p) => fs.unlinkSync(p),
  mkdirSync: (p, options) => fs.mkdirSync(p, options),
};

export function resolveIO(overrides: Partial<FileIO> | undefined): FileIO {
  return overrides ? { ...nodeIO, ...overrides } : nodeIO;
}

const C = fs.constants;
// O_NOFOLLOW everywhere: a log or index file replaced by a symlink must fail, never redirect a write.
export const O_APPEND_FLAGS = C.O_WRONLY | C.O_APPEND | C.O_NOFOLLOW;
export const O_CREATE_APPEND_FLAGS = C.O_WRONLY | C.O_APPEND | C.O_CREAT | C.O_NOFOLLOW;
export const O_EXCL_FLAGS = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;
export const O_READ_FLAGS = C.O_RDONLY | C.O_NOFOLLOW;

export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

export function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

export function isErrno(err: unknown, ...codes: string[]): boolean {
  const code = errnoOf(err);
  return code !== undefined && codes.includes(code);
}

export function syntheticErrno(code: string, message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: ${message}`);
  err.code = code;
  return err;
}

/**
 * Writes all of `buf`, looping over short writes. Returns how many bytes reached the file before a
 * failure so callers can tell "nothing written" from "partially written" (the error is rethrown with
 * `bytesWritten` attached).
 */
export function writeAll(io: FileIO, fd: number, buf: Uint8Array): void {
  let off = 0;
  try {
    while (off < buf.length) {
      const n = io.writeSync(fd, buf, off, buf.length - off, null);
      if (n <= 0) throw syntheticErrno('EIO', 'write made no progress');
      off += n;
    }
  } catch (err) {
    if (err && typeof err === 'object') (err as { bytesWritten?: number }).bytesWritten = off;
    throw err;
  }
}

export function closeQuietly(io: FileIO, fd: number | null | undefined): void {
  if (fd === null || fd === undefined) return;
  try {
    io.closeSync(fd);
  } catch {
    // Closing can only fail for a bad fd; there is nothing to recover.
  }
}

/** A directory entry is only durable once its parent directory is fsynced. */
export function fsyncDir(io: FileIO, dir: string): void {
  const fd = io.openSync(dir, C.O_RDONLY | C.O_DIRECTORY);
  try {
    io.fsyncSync(fd);
  } finally {
    closeQuietly(io, fd);
  }
}

/**
 * mkdir -p with mode 0700 that reports what it created, so the caller can fsync exactly the parents
 * whose entries changed (durability 'full').
 */
export function mkdirChain(io: FileIO, dir: string, durable: boolean): void {
  const missing: string[] = [];
  let cur = path.resolve(dir);
  for (;;) {
    if (fs.existsSync(cur)) break;
    missing.push(cur);
    const parent = path.dirname(cur);
    if (parent === cur) break;
    cur = parent;
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    const d = missing[i]!;
    try {
      io.mkdirSync(d, { mode: DIR_MODE });
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
      continue;
    }
    if (durable) fsyncDir(io, path.dirname(d));
  }
}

export function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return null;
    throw err;
  }
}

/** Same file (not just same path): a recreated file gets a new inode or at least a new birth time. */
export function sameFile(
  a: { dev: number; ino: number; birthtimeMs: number } | null | undefined,
  b: { dev: number; ino: number; birthtimeMs: number } | null | undefined,
): boolean {
  if (!a || !b) return !a && !b;
  return a.dev === b.dev && a.ino === b.ino && a.birthtimeMs === b.birthtimeMs;
}

export interface ReadCounter {
  bytes: number;
}

export function readAt(fd: number, buf: Buffer, offset: number, length: number, position: number, counter: ReadCounter): number {
  const n = fs.readSync(fd, buf, offset, length, position);
  counter.bytes += n;
  return n;
}
