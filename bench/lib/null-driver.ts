/**
 * A driver that stores nothing: it keeps each session's head seq and last summary only. Used as a
 * diagnostic baseline: addMessage through it costs exactly the store core (validation, ids, fold,
 * summary, mutex), with no storage at all.
 */
import type { StoredEvent } from '../../src/core/events.js';
import type { ListResult, SessionDriver, SessionSummary } from '../../src/drivers/driver.js';

export function createNullDriver(): SessionDriver {
  const heads = new Map<string, number>();
  const summaries = new Map<string, SessionSummary>();
  const created = new Map<string, StoredEvent>();
  return {
    name: 'null',
    capabilities: { watch: false, rawRead: false },
    async head(id) {
      return heads.get(id) ?? null;
    },
    async readEvents(id, afterSeq) {
      const c = created.get(id);
      if (!c) return null;
      return afterSeq < c.seq ? [c] : [];
    },
    async append(id, _mode, plan) {
      const head = heads.get(id) ?? 0;
      const p = await plan({ headSeq: head, readAfter: async () => [] });
      if (p === null) return [];
      if (!created.has(id)) created.set(id, p.events[0]!);
      heads.set(id, p.events[p.events.length - 1]!.seq);
      summaries.set(id, p.summary);
      return p.events;
    },
    async list(): Promise<ListResult> {
      return { sessions: [...summaries.values()].slice(0, 50), next: null };
    },
    async findByShareTokenHash() {
      return null;
    },
    async *listLogIds() {
      yield* heads.keys();
    },
    async putSummary(s) {
      summaries.set(s.id, s);
    },
    async remove(id) {
      heads.delete(id);
      summaries.delete(id);
      created.delete(id);
    },
    async close() {},
  };
}
