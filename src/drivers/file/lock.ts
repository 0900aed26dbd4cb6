/**
 * Cross-process advisory locks built from O_EXCL lock files, so they work between unrelated processes
 * without native addons. A lock file names its owner ({pid, host, token, at}); a dead owner's lock is
 * stolen so a crashed (kill -9) writer never blocks the others for long.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { randomBytes } from 'node:crypto';
import {
  FILE_MODE,
  O_EXCL_FLAGS,
  O_READ_FLAGS,
  closeQuietly,
  isErrno,
  lstatOrNull,
  sameFile,
  writeAll,
  type FileIO,
} from './io.js';

export interface LockOptions {
  io: FileIO;
  timeoutMs: number;
  /** A lock older than this is stale even if its pid looks alive (pid reuse, hung owner). */
  staleMs: number;
}

export interface HeldLock {
  readonly path: string;
  readonly token: string;
  /** When we created it (Date.now()). */
  readonly acquiredAt: number;
}

interface LockInfo {
  dev: number;
  ino: number;
  birthtimeMs: number;
  mtimeMs: number;
  pid: number | null;
  host: string | null;
  token: string | null;
  atMs: number | null;
  /** The owner's process start time (Linux /proc), which tells a live owner from a reused pid. */
  start: string | null;
  /** When it was taken, on the host's monotonic clock (ms): ages that wall-clock steps cannot fake. */
  monoMs: number | null;
}

/** CLOCK_MONOTONIC is one clock for every process of a host (time since boot), unlike Date.now(). */
const monoNow = (): number => Number(process.hrtime.bigint() / 1_000_000n);

/**
 * A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or null where /proc
 * is not available. Unlike wall-clock ages it is immune to clock steps, and a reused pid has another.
 */
function processStart(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}
const OWN_START = processStart(process.pid);

const HOST = os.hostname();
/** A lock file is created empty and filled by the very next syscall; one still empty after this long was
 *  left by a process that died in between. Kept short so such a lock never blocks writers for long. */
const EMPTY_LOCK_STALE_MS = 2_000;
/** The steal guard is held for a few syscalls only; an older one belongs to a dead stealer. */
const GUARD_STALE_MS = 5_000;
const BACKOFF_START_MS = 0.5;
const BACKOFF_CAP_MS = 20;

/**
 * Tokens of the locks this process holds. A lock naming our own pid with a token we do not hold was
 * left by an earlier process that had the same pid (containers restart at low pids).
 */
const heldTokens = new Set<string>();

/** Unique per lock taken: a random per-process prefix and a counter (no CSPRNG call per append). */
const TOKEN_PREFIX = randomBytes(8).toString('hex');
let tokenCounter = 0;
function newToken(): string {
  return `${TOKEN_PREFIX}-${(tokenCounter++).toString(36)}`;
}

function readLockInfo(lockPath: string): LockInfo | null {
  let fd: number;
  try {
    fd = fs.openSync(lockPath, O_READ_FLAGS);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
  try {
    const st = fs.fstatSync(fd);
    const buf = Buffer.alloc(Math.min(Math.max(st.size, 0), 4096));
    const n = buf.length > 0 ? fs.readSync(fd, buf, 0, buf.length, 0) : 0;
    const info: LockInfo = {
      dev: st.dev,
      ino: st.ino,
      birthtimeMs: st.birthtimeMs,
      mtimeMs: st.mtimeMs,
      pid: null,
      host: null,
      token: null,
      atMs: null,
      start: null,
      monoMs: null,
    };
    try {
      const v = JSON.parse(buf.toString('utf8', 0, n)) as Record<string, unknown>;
      if (typeof v.token === 'string') info.token = v.token;
      if (Number.isSafeInteger(v.pid)) info.pid = v.pid as number;
      if (typeof v.host === 'string') info.host = v.host;
      const at = typeof v.at === 'string' ? Date.parse(v.at) : typeof v.at === 'number' ? v.at : NaN;
      if (Number.isFinite(at)) info.atMs = at;
      if (typeof v.start === 'string') info.start = v.start;
      if (Number.isFinite(v.mono)) info.monoMs = v.mono as number;
    } catch {
      // Empty or partial content: the owner is between creating and filling the file, or died there.
    }
    return info;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A lock is stale when its owner is gone (dead pid, or a live pid that started at another time: reused)
 * or has held it longer than `staleMs` (hung). On this host age is measured on the monotonic clock, so
 * a wall-clock step never makes a live owner's lock look old; only foreign or legacy locks (another
 * host, no monotonic stamp) fall back to wall-clock age.
 */
function isStale(info: LockInfo, staleMs: number, now: number): boolean {
  if (info.token === null) return now - info.mtimeMs > Math.min(staleMs, EMPTY_LOCK_STALE_MS);
  if (info.host === HOST && info.pid !== null) {
    if (info.pid === process.pid) return (info.start !== null && info.start !== OWN_START) || !heldTokens.has(info.token);
    try {
      process.kill(info.pid, 0);
    } catch (err) {
      // EPERM means the pid exists under another user: alive.
      if (isErrno(err, 'ESRCH')) return true;
    }
    if (info.start !== null && OWN_START !== null) {
      const start = processStart(info.pid);
      if (start !== null && start !== info.start) return true;
    }
    if (info.monoMs !== null) return monoNow() - info.monoMs > staleMs;
  }
  return now - (info.atMs ?? info.mtimeMs) > staleMs;
}

function tryCreate(lockPath: string, io: FileIO, token: string): boolean {
  let fd: number;
  try {
    fd = io.openSync(lockPath, O_EXCL_FLAGS, FILE_MODE);
  } catch (err) {
    if (isErrno(err, 'EEXIST')) return false;
    throw err;
  }
  try {
    const content = JSON.stringify({ pid: process.pid, host: HOST, token, at: new Date().toISOString(), start: OWN_START, mono: monoNow() });
    writeAll(io, fd, Buffer.from(content));
  } catch (err) {
    closeQuietly(io, fd);
    try {
      io.unlinkSync(lockPath);
    } catch {
      // An empty lock is judged stale after EMPTY_LOCK_STALE_MS anyway.
    }
    throw err;
  }
  closeQuietly(io, fd);
  heldTokens.add(token);
  return true;
}

/**
 * Removes a stale lock only if it is still the very file we judged stale. The guard serialises
 * stealers so one cannot unlink a fresh lock that another stealer's winner just created.
 */
function steal(lockPath: string, observed: LockInfo, io: FileIO): boolean {
  const guard = `${lockPath}.steal`;
  let gfd: number;
  try {
    gfd = io.openSync(guard, O_EXCL_FLAGS, FILE_MODE);
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
    const st = lstatOrNull(guard);
    if (st && Date.now() - st.mtimeMs > GUARD_STALE_MS) {
      const again = lstatOrNull(guard);
      if (again && sameFile(st, again)) {
        try {
          io.unlinkSync(guard);
        } catch {
          // Someone else removed it first.
        }
      }
    }
    return false;
  }
  let removed = false;
  try {
    const cur = readLockInfo(lockPath);
    if (cur && sameFile(cur, observed) && cur.token === observed.token) {
      try {
        io.unlinkSync(lockPath);
        removed = true;
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
    }
  } finally {
    closeQuietly(io, gfd);
    try {
      io.unlinkSync(guard);
    } catch {
      // A leftover guard is removed by the next stealer after GUARD_STALE_MS.
    }
  }
  return removed;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Waits (with jittered exponential backoff, never spinning) until the lock is ours or `timeoutMs`
 * passes; `onTimeout` builds the error to throw then.
 */
export async function acquireLock(lockPath: string, opts: LockOptions, onTimeout: (waitedMs: number) => Error): Promise<HeldLock> {
  const token = newToken();
  const start = Date.now();
  let delay = BACKOFF_START_MS;
  let quickRetries = 0;
  for (;;) {
    if (tryCreate(lockPath, opts.io, token)) return { path: lockPath, token, acquiredAt: Date.now() };
    const info = readLockInfo(lockPath);
    // Released (or stolen) between our two syscalls: compete again at once, but not forever.
    if ((info === null || (isStale(info, opts.staleMs, Date.now()) && steal(lockPath, info, opts.io))) && quickRetries++ < 3) continue;
    quickRetries = 0;
    const waited = Date.now() - start;
    if (waited >= opts.timeoutMs) throw onTimeout(waited);
    await sleep(Math.min(delay * (0.5 + Math.random()), opts.timeoutMs - waited));
    delay = Math.min(delay * 2, BACKOFF_CAP_MS);
  }
}

/** One attempt (stealing a stale lock first if needed); null when someone else holds it. */
export function tryAcquireLock(lockPath: string, opts: Omit<LockOptions, 'timeoutMs'>): HeldLock | null {
  const token = newToken();
  for (let attempt = 0; attempt < 2; attempt++) {
    if (tryCreate(lockPath, opts.io, token)) return { path: lockPath, token, acquiredAt: Date.now() };
    const info = readLockInfo(lockPath);
    if (info !== null && !(isStale(info, opts.staleMs, Date.now()) && steal(lockPath, info, opts.io))) return null;
  }
  return null;
}

/**
 * Unlinks the lock only while it is still ours: after a steal it may belong to someone else. A live
 * owner's lock is stolen only once it is older than `staleMs`, so a lock held for less than half of
 * that is certainly still ours and is unlinked without reading it back (the common, fast case).
 */
export function releaseLock(lock: HeldLock, io: FileIO, staleMs: number): void {
  heldTokens.delete(lock.token);
  if (Date.now() - lock.acquiredAt < staleMs / 2) {
    try {
      io.unlinkSync(lock.path);
    } catch {
      // See below: a leftover lock naming a token we no longer hold is stale.
    }
    return;
  }
  let info: LockInfo | null;
  try {
    info = readLockInfo(lock.path);
  } catch {
    return;
  }
  if (info === null || info.token !== lock.token) return;
  try {
    io.unlinkSync(lock.path);
  } catch {
    // Left behind, it names a token we no longer hold: stale at once to this process, to others once
    // this process exits (pid check) or after staleMs.
  }
}
