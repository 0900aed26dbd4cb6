/**
 * The in-memory listing index: last line wins per id, kept sorted (updatedAt desc, id desc) by binary
 * search so one changed summary costs O(log n) + a splice instead of a re-sort, with side maps for the
 * parent filter and share-token lookups.
 */
import { isValidSessionId } from '../../core/ids.js';
import type { ListCursor, ListQuery, SessionSummary } from '../driver.js';
import { compareListOrder, matchesQuery } from '../listing.js';

export interface IndexEntry {
  summary: SessionSummary;
  /** Log size when this summary was written; null if unknown. Lets list() spot a lagging summary. */
  logSize: number | null;
}

export type IndexLine = { kind: 'put'; entry: IndexEntry } | { kind: 'remove'; id: string };

type Key = Pick<SessionSummary, 'updatedAt' | 'id'>;

/** First index whose key is not listed before `key` (or, with `strict`, is listed after it). */
function bound(arr: readonly SessionSummary[], key: Key, strict: boolean): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareListOrder(arr[mid]!, key);
    if (c < 0 || (strict && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Id first, so a line glued to a half-written one can be recovered by finding its `{"id":` start. */
export function encodeSummaryLine(summary: SessionSummary, logSize: number | null): string {
  return JSON.stringify(Object.assign({ id: summary.id }, summary, { logSize }));
}

export function encodeRemovedLine(id: string): string {
  return JSON.stringify({ id, removed: true });
}

const LINE_START = '{"id":';

export function parseIndexLine(text: string): IndexLine | null {
  const line = decode(text);
  if (line !== null) return line;
  // A writer that failed half-way leaves a fragment the next line is appended to; salvage that line.
  const at = text.lastIndexOf(LINE_START);
  return at > 0 ? decode(text.slice(at)) : null;
}

function decode(text: string): IndexLine | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  if (!isValidSessionId(o.id)) return null;
  if (o.removed === true) return { kind: 'remove', id: o.id };
  if (typeof o.updatedAt !== 'string' || typeof o.createdAt !== 'string' || !Number.isSafeInteger(o.headSeq)) return null;
  const logSize = Number.isSafeInteger(o.logSize) ? (o.logSize as number) : null;
  delete o.logSize;
  return { kind: 'put', entry: { summary: o as unknown as SessionSummary, logSize } };
}

const listed = (s: SessionSummary) => s.deleted !== true;

export interface Page {
  entries: IndexEntry[];
  /** More matching entries follow the last one. */
  more: boolean;
}

export class SummaryTable {
  private readonly byId = new Map<string, IndexEntry>();
  /** Every summary (deleted ones too: `includeDeleted` lists them) in listing order; stale while `bulk` is set. */
  private order: SessionSummary[] = [];
  private readonly byParent = new Map<string, Set<string>>();
  private readonly byShare = new Map<string, string>();
  private bulk = false;

  get size(): number {
    return this.byId.size;
  }

  clear(): void {
    this.byId.clear();
    this.order = [];
    this.byParent.clear();
    this.byShare.clear();
    this.bulk = false;
  }

  /** Many lines are coming: skip per-line sorted inserts and sort once in endBulk(). */
  beginBulk(): void {
    this.bulk = true;
  }

  endBulk(): void {
    if (!this.bulk) return;
    const order: SessionSummary[] = [];
    for (const e of this.byId.values()) order.push(e.summary);
    order.sort(compareListOrder);
    this.order = order;
    this.bulk = false;
  }

  apply(line: IndexLine): void {
    if (line.kind === 'put') this.put(line.entry);
    else this.delete(line.id);
  }

  get(id: string): IndexEntry | undefined {
    return this.byId.get(id);
  }

  put(entry: IndexEntry): void {
    const old = this.byId.get(entry.summary.id);
    if (old) this.unlink(old.summary);
    this.byId.set(entry.summary.id, entry);
    this.link(entry.summary);
  }

  delete(id: string): void {
    const old = this.byId.get(id);
    if (!old) return;
    this.unlink(old.summary);
    this.byId.delete(id);
  }

  findShare(tokenHash: string): string | null {
    const id = this.byShare.get(tokenHash);
    if (id === undefined) return null;
    const s = this.byId.get(id)?.summary;
    return s && listed(s) && s.shareTokenHash === tokenHash ? id : null;
  }

  page(q: ListQuery): Page {
    let source: readonly SessionSummary[] = this.order;
    if (q.parentId !== undefined) {
      const kids: SessionSummary[] = [];
      for (const id of this.byParent.get(q.parentId) ?? []) {
        const s = this.byId.get(id)?.summary;
        if (s) kids.push(s);
      }
      source = kids.sort(compareListOrder);
    }
    const matches = (s: SessionSummary) => matchesQuery(s, q);
    const entries: IndexEntry[] = [];
    let i = q.after ? bound(source, q.after, true) : 0;
    for (; i < source.length && entries.length < q.limit; i++) {
      const s = source[i]!;
      if (matches(s)) entries.push(this.byId.get(s.id)!);
    }
    let more = false;
    for (; i < source.length; i++) {
      if (matches(source[i]!)) {
        more = true;
        break;
      }
    }
    return { entries, more };
  }

  private link(s: SessionSummary): void {
    if (s.parentId !== null && s.parentId !== undefined) {
      let set = this.byParent.get(s.parentId);
      if (!set) this.byParent.set(s.parentId, (set = new Set()));
      set.add(s.id);
    }
    if (typeof s.shareTokenHash === 'string') this.byShare.set(s.shareTokenHash, s.id);
    if (!this.bulk) this.order.splice(bound(this.order, s, false), 0, s);
  }

  private unlink(s: SessionSummary): void {
    if (s.parentId !== null && s.parentId !== undefined) {
      const set = this.byParent.get(s.parentId);
      set?.delete(s.id);
      if (set && set.size === 0) this.byParent.delete(s.parentId);
    }
    if (typeof s.shareTokenHash === 'string' && this.byShare.get(s.shareTokenHash) === s.id) this.byShare.delete(s.shareTokenHash);
    if (!this.bulk) {
      const i = bound(this.order, s, false);
      if (this.order[i] === s) this.order.splice(i, 1);
    }
  }
}

export function cursorOf(s: SessionSummary): ListCursor {
  return { updatedAt: s.updatedAt, id: s.id };
}
