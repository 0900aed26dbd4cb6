/**
 * An independent reading of the stored data, so a bug shared by the driver's writer and reader cannot
 * hide: a JSON-lines parser of the file driver's logs written from the format description
 * (ARCHITECTURE.md: one event per line, `"more":true` on every line of a batch but its last), and a
 * small fold of the visible-message semantics (revert, unrevert, snapshot, clear, fork prefix) used as
 * the model the store's answers are compared with.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface RawEvent {
  seq: number;
  at: string;
  type: string;
  [key: string]: unknown;
}

export interface RawLog {
  /** Events of complete groups only, in file order, `more` removed. */
  events: RawEvent[];
  /** Byte length of the complete groups. */
  validEnd: number;
  /** Bytes after the complete groups (a torn last write), possibly empty. */
  tail: Buffer;
  /** Damage that is not a torn tail: a bad line followed by valid events, a seq gap, a wrong first event. */
  problems: string[];
}

export function parseRawLog(buf: Buffer): RawLog {
  const events: RawEvent[] = [];
  const problems: string[] = [];
  let validEnd = 0;
  let group: RawEvent[] = [];
  let pos = 0;
  let broken: string | null = null;
  let expected: number | null = null;
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl === -1) break; // a partial last line
    const lineStart = pos;
    pos = nl + 1;
    let parsed: (RawEvent & { more?: unknown }) | null = null;
    try {
      const v = JSON.parse(buf.toString('utf8', lineStart, nl)) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v) && Number.isSafeInteger((v as RawEvent).seq) && typeof (v as RawEvent).type === 'string') {
        parsed = v as RawEvent & { more?: unknown };
      }
    } catch {
      parsed = null;
    }
    if (broken !== null) {
      if (parsed && parsed.more === undefined) problems.push(`${broken}, followed by a complete event (seq ${parsed.seq}) at byte ${lineStart}`);
      continue;
    }
    if (!parsed) {
      broken = `unreadable line at byte ${lineStart}`;
      continue;
    }
    const more = parsed.more === true;
    const { more: _m, ...event } = parsed;
    if (events.length === 0 && group.length === 0 && event.type !== 'session.created') problems.push(`first event is ${event.type}`);
    if (expected !== null && event.seq !== expected) problems.push(`seq ${event.seq} at byte ${lineStart} where ${expected} was expected`);
    expected = event.seq + 1;
    group.push(event as RawEvent);
    if (!more) {
      events.push(...group);
      group = [];
      validEnd = pos;
    }
  }
  return { events, validEnd, tail: buf.subarray(validEnd), problems };
}

export function readRawLog(file: string): RawLog {
  return parseRawLog(fs.readFileSync(file));
}

/** Every `sessions/<id>.jsonl` of a file store, parsed. */
export function readAllRawLogs(dir: string): Map<string, RawLog> {
  const out = new Map<string, RawLog>();
  const sessions = path.join(dir, 'sessions');
  if (!fs.existsSync(sessions)) return out;
  for (const name of fs.readdirSync(sessions)) {
    if (!name.endsWith('.jsonl')) continue;
    out.set(name.slice(0, -'.jsonl'.length), readRawLog(path.join(sessions, name)));
  }
  return out;
}

// ---- the model fold ---------------------------------------------------------------------------

export interface ModelMessage {
  id: string;
  seq: number;
  role: unknown;
  content: unknown;
}

export interface ModelState {
  firstSeq: number;
  headSeq: number;
  title: unknown;
  parentId: string | null;
  forkedFrom: { messageId: string | null; seq: number } | null;
  all: ModelMessage[];
  visible: ModelMessage[];
  revert: { restore: ModelMessage[] } | null;
  snapshots: Array<{ id: string; seq: number; messages: ModelMessage[] }>;
  shareToken: string | null;
  deleted: boolean;
}

const asMessage = (m: Record<string, unknown>, seq: number): ModelMessage => ({ id: m.id as string, seq, role: m.role, content: m.content });

/** Folds a session's events; `prefix` is what a fork inherited (see `resolvePrefix`). */
export function foldModel(events: readonly RawEvent[], prefix: readonly ModelMessage[]): ModelState {
  const created = events[0];
  if (!created || created.type !== 'session.created') throw new Error('a log must start with session.created');
  const session = created.session as { title: unknown; parentId: string | null; forkedFrom: ModelState['forkedFrom'] };
  const embedded = Array.isArray(created.prefix)
    ? (created.prefix as Array<Record<string, unknown>>).map((m) => asMessage(m, m.seq as number))
    : null;
  const inherited = embedded ?? prefix.slice();
  const st: ModelState = {
    firstSeq: created.seq,
    headSeq: created.seq,
    title: session.title,
    parentId: session.parentId,
    forkedFrom: session.forkedFrom,
    all: inherited.slice(),
    visible: inherited.slice(),
    revert: null,
    snapshots: [],
    shareToken: null,
    deleted: false,
  };
  const own = new Set<string>();
  for (const e of events.slice(1)) {
    st.headSeq = e.seq;
    switch (e.type) {
      case 'message.added': {
        const m = e.message as Record<string, unknown>;
        if (own.has(m.id as string)) break;
        own.add(m.id as string);
        const msg = asMessage(m, e.seq);
        st.all.push(msg);
        st.visible.push(msg);
        st.revert = null;
        break;
      }
      case 'title.set':
        st.title = e.title;
        break;
      case 'share.enabled':
        st.shareToken = e.token as string;
        break;
      case 'share.disabled':
        st.shareToken = null;
        break;
      case 'snapshot.created':
        st.snapshots.push({ id: (e.snapshot as { id: string }).id, seq: e.seq, messages: st.visible.slice() });
        break;
      case 'revert.applied': {
        const base = st.revert ? st.revert.restore : st.visible;
        let shown: ModelMessage[] | null = null;
        if (e.snapshotId !== null && e.snapshotId !== undefined) {
          const snap = st.snapshots.find((s) => s.id === e.snapshotId);
          if (snap) shown = snap.messages.slice();
        } else if (e.toMessageId === null) shown = [];
        else {
          const at = base.findIndex((m) => m.id === e.toMessageId);
          if (at >= 0) shown = base.slice(0, at + 1);
        }
        if (shown === null) break;
        st.revert = { restore: base };
        st.visible = shown;
        break;
      }
      case 'revert.undone':
        if (st.revert) {
          st.visible = st.revert.restore;
          st.revert = null;
        }
        break;
      case 'session.cleared':
        st.visible = [];
        st.revert = null;
        break;
      case 'parent.detached':
        st.parentId = null;
        break;
      case 'session.deleted':
        st.deleted = true;
        break;
      default:
        break;
    }
  }
  return st;
}

/**
 * The messages a fork inherited: its parent's visible history at `forkedFrom.seq`, up to and including
 * `forkedFrom.messageId`, computed from the parent's raw events (recursively for forks of forks).
 */
export function resolvePrefix(id: string, logs: ReadonlyMap<string, readonly RawEvent[]>, depth = 0): ModelMessage[] {
  const events = logs.get(id);
  if (!events || events.length === 0) throw new Error(`no log for ${id}`);
  const created = events[0]!;
  if (Array.isArray(created.prefix)) return [];
  const detached = [...events].reverse().find((e) => e.type === 'parent.detached');
  if (detached) return (detached.prefix as Array<Record<string, unknown>>).map((m) => asMessage(m, m.seq as number));
  const session = created.session as { parentId: string | null; forkedFrom: { messageId: string | null; seq: number } | null };
  if (!session.forkedFrom || session.parentId === null) return [];
  if (depth > 100) throw new Error('fork chain too deep');
  const parentEvents = logs.get(session.parentId);
  if (!parentEvents) throw new Error(`parent ${session.parentId} of ${id} has no log`);
  const upTo = parentEvents.filter((e) => e.seq <= session.forkedFrom!.seq);
  const parent = foldModel(upTo, resolvePrefix(session.parentId, logs, depth + 1));
  if (session.forkedFrom.messageId === null) return [];
  const at = parent.visible.findIndex((m) => m.id === session.forkedFrom!.messageId);
  if (at < 0) throw new Error(`fork point ${session.forkedFrom.messageId} of ${id} is not visible in ${session.parentId} at seq ${session.forkedFrom.seq}`);
  return parent.visible.slice(0, at + 1);
}

/** Message ids a log itself appended (not inherited), in log order, duplicates kept. */
export function ownMessageIds(events: readonly RawEvent[]): string[] {
  const out: string[] = [];
  for (const e of events) if (e.type === 'message.added') out.push((e.message as { id: string }).id);
  return out;
}
