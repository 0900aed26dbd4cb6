/**
 * What writers acknowledged, and the checks of stored logs against it: every acknowledged message
 * exactly once in its session's log, batches whole, seq gap-free, every acknowledged title, snapshot,
 * share and fork present.
 */
import type { SessionStore } from '../../src/index.js';
import { foldModel, ownMessageIds, resolvePrefix, type RawEvent } from './rawlog.js';
import type { Recorder } from './recorder.js';
import type { Line } from './spawn.js';

export interface LogView {
  events: RawEvent[];
  /** Problems other than a torn tail (damage in the middle, seq gaps). */
  problems: string[];
  /** Bytes of a torn tail, if any (file driver). */
  tailBytes: number;
}

/** Batch ids are `<writer>.<n>.<k>.<size>`: a batch is `<writer>.<n>`, whole when it has `size` members. */
export function batchOf(id: string): { key: string; size: number } | null {
  const parts = id.split('.');
  if (parts.length !== 4) return null;
  const size = Number(parts[3]);
  return Number.isSafeInteger(size) && size > 0 ? { key: `${parts[0]}.${parts[1]}`, size } : null;
}

export class Ledger {
  /** message id → session it was acknowledged in. */
  readonly messages = new Map<string, string>();
  readonly titles: Array<{ s: string; seq: number; title: string }> = [];
  readonly snapshots: Array<{ s: string; id: string; seq: number }> = [];
  readonly forks: Array<{ s: string; child: string; forkedFrom: unknown; prefixIds?: string[] }> = [];
  readonly shares: Array<{ s: string; token: string }> = [];
  otherWrites = 0;

  /** Records one acknowledgement line of a worker. */
  absorb(l: Line): void {
    const kind = l.ack;
    if (typeof kind !== 'string') return;
    const s = l.s as string;
    switch (kind) {
      case 'add':
      case 'batch':
      case 'messages':
        for (const id of l.ids as string[]) this.messages.set(id, s);
        break;
      case 'title':
        if (typeof l.seq === 'number') this.titles.push({ s, seq: l.seq, title: l.title as string });
        else this.otherWrites++;
        break;
      case 'snapshot':
        this.snapshots.push({ s, id: l.id as string, seq: l.seq as number });
        break;
      case 'fork':
        this.forks.push({ s, child: l.child as string, forkedFrom: l.forkedFrom, ...(l.prefixIds ? { prefixIds: l.prefixIds as string[] } : {}) });
        break;
      case 'share':
        this.shares.push({ s, token: l.token as string });
        break;
      default:
        this.otherWrites++;
    }
  }

  get size(): number {
    return this.messages.size + this.titles.length + this.snapshots.length + this.forks.length + this.shares.length + this.otherWrites;
  }

  sessions(): Set<string> {
    const out = new Set<string>(this.messages.values());
    for (const f of this.forks) out.add(f.child);
    return out;
  }
}

/**
 * Checks stored logs against the ledger. Returns how many acknowledged items were verified. `where`
 * prefixes every finding (e.g. "after kill 12").
 */
export function checkLogs(logs: ReadonlyMap<string, LogView>, ledger: Ledger, rec: Recorder, where: string): number {
  const own = new Map<string, Map<string, number>>();
  for (const [s, log] of logs) {
    for (const p of log.problems) rec.corrupted(`${where}: log ${s}: ${p}`);
    const ev = log.events;
    if (ev.length > 0) {
      if (ev[0]!.type !== 'session.created') rec.corrupted(`${where}: log ${s} starts with ${ev[0]!.type}`);
      for (let i = 1; i < ev.length; i++) {
        if (ev[i]!.seq !== ev[i - 1]!.seq + 1) {
          rec.corrupted(`${where}: log ${s}: seq ${ev[i]!.seq} follows ${ev[i - 1]!.seq}`);
          break;
        }
      }
    }
    const counts = new Map<string, number>();
    for (const id of ownMessageIds(ev)) counts.set(id, (counts.get(id) ?? 0) + 1);
    own.set(s, counts);
    const batches = new Map<string, { size: number; n: number }>();
    for (const [id, n] of counts) {
      if (n > 1) rec.duplicated(`${where}: message ${id} stored ${n} times in ${s}`);
      const b = batchOf(id);
      if (!b) continue;
      const entry = batches.get(b.key) ?? { size: b.size, n: 0 };
      entry.n++;
      batches.set(b.key, entry);
    }
    for (const [key, b] of batches) if (b.n !== b.size) rec.corrupted(`${where}: batch ${key} in ${s} has ${b.n} of ${b.size} messages`);
  }
  let verified = 0;
  for (const [id, s] of ledger.messages) {
    const n = own.get(s)?.get(id) ?? 0;
    if (n === 0) rec.lost(`${where}: acknowledged message ${id} is not in ${s}`);
    verified++;
  }
  const bySeq = (s: string, seq: number) => logs.get(s)?.events.find((e) => e.seq === seq);
  for (const t of ledger.titles) {
    const e = bySeq(t.s, t.seq);
    if (!e || e.type !== 'title.set' || e.title !== t.title) rec.lost(`${where}: acknowledged title ${JSON.stringify(t.title)} of ${t.s} is not at seq ${t.seq}`);
    verified++;
  }
  for (const snap of ledger.snapshots) {
    const e = bySeq(snap.s, snap.seq);
    if (!e || e.type !== 'snapshot.created' || (e.snapshot as { id?: string }).id !== snap.id) {
      rec.lost(`${where}: acknowledged snapshot ${snap.id} of ${snap.s} is not at seq ${snap.seq}`);
    }
    verified++;
  }
  for (const f of ledger.forks) {
    const created = logs.get(f.child)?.events[0];
    const session = created?.session as { parentId?: unknown; forkedFrom?: unknown } | undefined;
    if (!session) rec.lost(`${where}: acknowledged fork ${f.child} of ${f.s} has no log`);
    else if (JSON.stringify(session.forkedFrom) !== JSON.stringify(f.forkedFrom)) {
      rec.corrupted(`${where}: fork ${f.child} records forkedFrom ${JSON.stringify(session.forkedFrom)}, acknowledged ${JSON.stringify(f.forkedFrom)}`);
    }
    verified++;
  }
  for (const sh of ledger.shares) {
    const found = logs.get(sh.s)?.events.some((e) => e.type === 'share.enabled' && e.token === sh.token);
    if (!found) rec.lost(`${where}: acknowledged share token of ${sh.s} has no share.enabled event`);
    verified++;
  }
  return verified;
}

/**
 * Cold reads through the public API (a fresh handle) against the model fold of the raw events: the
 * visible and full histories, head seq, and every acknowledged message present once.
 */
export async function checkThroughApi(
  store: SessionStore,
  logs: ReadonlyMap<string, LogView>,
  ledger: Ledger,
  rec: Recorder,
  where: string,
  /** Opens another independent handle (to tell a cache bug of one handle from stored damage). */
  openIsolated?: () => SessionStore,
): Promise<void> {
  const events = new Map<string, RawEvent[]>();
  for (const [s, l] of logs) events.set(s, l.events);
  for (const [s, log] of logs) {
    if (log.events.length === 0) continue;
    let model;
    try {
      model = foldModel(log.events, resolvePrefix(s, events));
    } catch (err) {
      rec.corrupted(`${where}: ${s}: the raw log does not fold: ${(err as Error).message}`);
      continue;
    }
    if (model.deleted) continue;
    try {
      const all = await store.getMessages(s, { includeReverted: true });
      const visible = await store.getMessages(s);
      const info = await store.getSessionInfo(s);
      const ids = all.map((m) => m.id);
      if (new Set(ids).size !== ids.length) rec.duplicated(`${where}: ${s}: getMessages({includeReverted}) returns a message twice`);
      const d1 = firstDifference(ids, model.all.map((m) => m.id));
      const d2 = firstDifference(visible.map((m) => m.id), model.visible.map((m) => m.id));
      if ((d1 || d2) && openIsolated && model.forkedFrom && (await readsRightAlone(openIsolated, s, model.all.map((m) => m.id)))) {
        // Right from a handle that read nothing else: the shared handle served another fork's prefix.
        rec.known('fork-prefix-cache', `${where}: ${s}: ${d1 ?? d2}`);
        continue;
      }
      if (d1) rec.corrupted(`${where}: ${s}: full history differs from the log's fold: ${d1}`);
      if (d2) rec.corrupted(`${where}: ${s}: visible messages differ from the log's fold: ${d2}`);
      for (let i = 1; i < all.length; i++) if (all[i]!.seq <= all[i - 1]!.seq) rec.corrupted(`${where}: ${s}: getMessages not in seq order`);
      if (info.headSeq !== model.headSeq) rec.corrupted(`${where}: ${s}: headSeq ${info.headSeq}, log says ${model.headSeq}`);
      const present = new Set(ids);
      for (const [id, owner] of ledger.messages) if (owner === s && !present.has(id)) rec.lost(`${where}: ${s}: acknowledged ${id} not returned by getMessages`);
    } catch (err) {
      if (openIsolated && model.forkedFrom && (await readsRightAlone(openIsolated, s, model.all.map((m) => m.id)).catch(() => false))) {
        rec.known('fork-prefix-cache', `${where}: ${s}: the shared handle fails with ${(err as Error).message}`);
      } else rec.fail(`${where}: reading ${s} through the API failed: ${(err as Error).message}`);
    }
  }
}

/** Null when equal, else where two id lists first differ. */
export function firstDifference(got: readonly string[], want: readonly string[]): string | null {
  const n = Math.max(got.length, want.length);
  for (let i = 0; i < n; i++) {
    if (got[i] !== want[i]) return `at ${i} got ${got[i] ?? '(end)'}, expected ${want[i] ?? '(end)'} (lengths ${got.length}/${want.length})`;
  }
  return null;
}

async function readsRightAlone(open: () => SessionStore, id: string, want: readonly string[]): Promise<boolean> {
  const alone = open();
  try {
    const got = (await alone.getMessages(id, { includeReverted: true })).map((m) => m.id);
    return firstDifference(got, want) === null;
  } finally {
    await alone.close();
  }
}

/**
 * Sessions a handle called corrupt (worker `suspect` lines, or the parent's own handle): the stored log
 * is checked independently. Right from an isolated handle and from the raw fold: the open
 * fork-prefix-cache bug of the reporting handle; otherwise real damage.
 */
export async function checkSuspects(
  suspects: ReadonlyArray<{ s: string; message: string }>,
  logs: ReadonlyMap<string, LogView>,
  open: () => SessionStore,
  rec: Recorder,
  where: string,
): Promise<void> {
  const events = new Map<string, RawEvent[]>();
  for (const [s, l] of logs) events.set(s, l.events);
  for (const sus of suspects) {
    rec.count('suspectReports');
    const log = logs.get(sus.s);
    let want: string[] | null = null;
    try {
      if (log && log.events.length > 0) want = foldModel(log.events, resolvePrefix(sus.s, events)).all.map((m) => m.id);
    } catch {
      want = null;
    }
    const right = want !== null && (await readsRightAlone(open, sus.s, want).catch(() => false));
    if (right) rec.known('fork-prefix-cache', `${where}: a handle said ${sus.s} is corrupt (${sus.message.slice(0, 160)}); its log is sound`);
    else rec.corrupted(`${where}: ${sus.s} reported corrupt and the stored log does not read back: ${sus.message.slice(0, 200)}`);
  }
}
