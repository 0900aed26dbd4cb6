/**
 * The in-memory driver: a complete, process-local backend for tests and ephemeral agents. It is also
 * the simplest reading of the driver contract, so it runs the same conformance suite as every driver.
 */
import type { StoredEvent } from '../core/events.js';
import { SessionExistsError, SessionNotFoundError } from '../core/errors.js';
import { assertSessionId } from '../core/ids.js';
import type { ListQuery, ListResult, SessionDriver, SessionSummary } from './driver.js';
import { compareListOrder, matchesQuery } from './listing.js';

export function createMemoryDriver(): SessionDriver {
  const logs = new Map<string, StoredEvent[]>();
  const summaries = new Map<string, SessionSummary>();
  // Appends of one session run one after another, like under a file lock or a row lock.
  const locks = new Map<string, Promise<unknown>>();
  const copy = <T>(v: T): T => structuredClone(v);

  const withLock = async <T>(id: string, fn: () => Promise<T>): Promise<T> => {
    const previous = locks.get(id) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    locks.set(id, run.catch(() => undefined));
    return run;
  };

  return {
    name: 'memory',
    capabilities: { watch: false, rawRead: false },
    async head(id) {
      assertSessionId(id);
      const log = logs.get(id);
      return log ? log[log.length - 1]!.seq : null;
    },
    async readEvents(id, afterSeq, untilSeq = Infinity, limit = Infinity) {
      assertSessionId(id);
      const log = logs.get(id);
      if (!log) return null;
      return copy(log.filter((e) => e.seq > afterSeq && e.seq <= untilSeq).slice(0, limit));
    },
    append(id, mode, plan) {
      assertSessionId(id);
      return withLock(id, async () => {
        const log = logs.get(id);
        if (mode === 'create' && log) throw new SessionExistsError(id);
        if (mode === 'update' && !log) throw new SessionNotFoundError(id);
        const headSeq = log ? log[log.length - 1]!.seq : 0;
        const p = await plan({
          headSeq,
          readAfter: async (after, until = Infinity) => copy((log ?? []).filter((e) => e.seq > after && e.seq <= until)),
        });
        if (p === null) return [];
        checkSeqs(p.events, mode === 'create' ? null : headSeq);
        if (mode === 'create' && logs.has(id)) throw new SessionExistsError(id);
        logs.set(id, [...(log ?? []), ...copy(p.events)]);
        summaries.set(id, copy(p.summary));
        return p.events;
      });
    },
    async list(query: ListQuery): Promise<ListResult> {
      const sorted = [...summaries.values()].filter((s) => matchesQuery(s, query)).sort(compareListOrder);
      const start = query.after ? sorted.findIndex((s) => compareListOrder(s, query.after!) > 0) : 0;
      const page = start < 0 ? [] : sorted.slice(start, start + query.limit);
      const more = start >= 0 && start + query.limit < sorted.length;
      const last = page[page.length - 1];
      return { sessions: copy(page), next: more && last ? { updatedAt: last.updatedAt, id: last.id } : null };
    },
    async findByShareTokenHash(hash) {
      for (const s of summaries.values()) if (!s.deleted && s.shareTokenHash === hash) return s.id;
      return null;
    },
    async *listLogIds() {
      yield* [...logs.keys()];
    },
    async putSummary(summary) {
      if (logs.has(summary.id)) summaries.set(summary.id, copy(summary));
    },
    async remove(id) {
      assertSessionId(id);
      await withLock(id, async () => {
        logs.delete(id);
        summaries.delete(id);
      });
    },
    async close() {},
  };
}

/** A plan must continue the log exactly: first seq = head + 1 (any start for a new log), no gaps. */
export function checkSeqs(events: readonly StoredEvent[], headSeq: number | null): void {
  if (events.length === 0) throw new Error('an append plan must carry at least one event');
  if (headSeq !== null && events[0]!.seq !== headSeq + 1) {
    throw new Error(`append must continue at seq ${headSeq + 1}, got ${events[0]!.seq}`);
  }
  if (headSeq === null && events[0]!.type !== 'session.created') throw new Error('a new log must start with session.created');
  for (let i = 1; i < events.length; i++) {
    if (events[i]!.seq !== events[i - 1]!.seq + 1) throw new Error('append seqs must be contiguous');
  }
}
