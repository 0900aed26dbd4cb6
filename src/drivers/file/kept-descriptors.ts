/**
 * Write descriptors of session logs kept open between appends, so a warm append is one write (no open,
 * fstat, close). Used only under the session's lock, and only while the log's path still names the file
 * the descriptor was opened on (the caller compares identities after its lstat), so a log that was
 * replaced, quarantined or removed is never written through an old descriptor.
 */
import { closeQuietly, sameFile, type FileIO } from './io.js';

export interface KeptDescriptor {
  fd: number;
  dev: number;
  ino: number;
  birthtimeMs: number;
}

export class KeptDescriptors {
  /** By key, least recently used first. */
  private readonly open = new Map<string, KeptDescriptor>();

  constructor(
    private readonly io: FileIO,
    private readonly capacity: number,
  ) {}

  /** The descriptor kept for `key` if it was opened on the file `file` describes; any other is closed. */
  get(key: string, file: { dev: number; ino: number; birthtimeMs: number }): number | null {
    const kept = this.open.get(key);
    if (!kept) return null;
    this.open.delete(key);
    if (!sameFile(kept, file)) {
      closeQuietly(this.io, kept.fd);
      return null;
    }
    this.open.set(key, kept);
    return kept.fd;
  }

  /** Keeps `fd` (opened on the file `st` describes) for `key`, closing the least recently used beyond capacity. */
  keep(key: string, fd: number, st: { dev: number; ino: number; birthtimeMs: number }): void {
    this.drop(key);
    this.open.set(key, { fd, dev: st.dev, ino: st.ino, birthtimeMs: st.birthtimeMs });
    for (const [k, kept] of this.open) {
      if (this.open.size <= this.capacity) break;
      this.open.delete(k);
      closeQuietly(this.io, kept.fd);
    }
  }

  /** Closes the descriptor kept for `key`, if any. */
  drop(key: string): void {
    const kept = this.open.get(key);
    if (!kept) return;
    this.open.delete(key);
    closeQuietly(this.io, kept.fd);
  }

  closeAll(): void {
    for (const key of [...this.open.keys()]) this.drop(key);
  }
}
