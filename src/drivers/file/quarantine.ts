/**
 * Damaged bytes are never deleted: they are moved or copied under quarantine/ with a unique name, so a
 * human (or `doctor`) can inspect or restore them.
 */
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { FILE_MODE, O_EXCL_FLAGS, closeQuietly, fsyncDir, mkdirChain, writeAll, type FileIO } from './io.js';

export type QuarantineKind = 'torn-tail' | 'corrupt-log';

function quarantinePath(dir: string, id: string, kind: QuarantineKind): string {
  const stamp = new Date().toISOString().replace(/[-:.]/g, '');
  return path.join(dir, `${id}.${kind}.${stamp}.${randomBytes(6).toString('hex')}`);
}

/** Copies bytes into a new quarantine file (O_EXCL: never overwrites an earlier one). */
export function quarantineBytes(io: FileIO, dir: string, id: string, kind: QuarantineKind, bytes: Uint8Array, durable: boolean): string {
  mkdirChain(io, dir, durable);
  const target = quarantinePath(dir, id, kind);
  const fd = io.openSync(target, O_EXCL_FLAGS, FILE_MODE);
  try {
    writeAll(io, fd, bytes);
    if (durable) io.fsyncSync(fd);
  } catch (err) {
    closeQuietly(io, fd);
    try {
      io.unlinkSync(target);
    } catch {
      // Best effort: a partial copy is harmless, the original bytes are still in place.
    }
    throw err;
  }
  closeQuietly(io, fd);
  if (durable) fsyncDir(io, dir);
  return target;
}

/** Moves a whole file aside. rename is atomic, so the bytes are either still in place or quarantined. */
export function quarantineFile(io: FileIO, dir: string, id: string, kind: QuarantineKind, source: string, durable: boolean): string {
  mkdirChain(io, dir, durable);
  const target = quarantinePath(dir, id, kind);
  io.renameSync(source, target);
  if (durable) {
    fsyncDir(io, dir);
    fsyncDir(io, path.dirname(source));
  }
  return target;
}
