/** The listing order and filters every driver implements: newest update first, ties by id descending. */
import type { ListCursor, ListQuery, SessionSummary } from './driver.js';

/** Negative when `a` comes first in listing order. */
export function compareListOrder(a: ListCursor, b: ListCursor): number {
  if (a.updatedAt !== b.updatedAt) return a.updatedAt > b.updatedAt ? -1 : 1;
  if (a.id !== b.id) return a.id > b.id ? -1 : 1;
  return 0;
}

export function matchesQuery(s: SessionSummary, q: ListQuery): boolean {
  if (s.deleted && !q.includeDeleted) return false;
  if (q.parentId !== undefined && s.parentId !== q.parentId) return false;
  if (q.agentName !== undefined && s.agentName !== q.agentName) return false;
  if (q.userId !== undefined && s.userId !== q.userId) return false;
  if (q.rootsOnly && s.parentId !== null) return false;
  return true;
}
