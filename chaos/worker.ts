/**
 * A child process of the chaos campaign: `worker.ts <recipe json> <job json>`. It opens the store the
 * recipe describes and runs one job, printing one JSON line per event on stdout: `{"intent":…}` just
 * before a message write, `{"ack":…}` once a write is acknowledged (the parent may SIGKILL it at any
 * moment and then checks that every acknowledged write survived), `{"stats":…}` at the end of a soak.
 * With CHAOS_WAIT_FOR_GO=1 it prints `{"ready":true}` and waits for a line on stdin first.
 */
import { openStore, type SessionStore } from '../src/index.js';
import { Rng, contentFor, sleep } from './lib/util.js';
import type { Recipe } from './lib/types.js';

export type WorkerJob =
  | { kind: 'mix'; writer: string; sessions: string[]; retry: Array<{ s: string; ids: string[] }>; seed: number }
  | { kind: 'soak'; writer: string; sessions: string[]; seconds: number; seed: number }
  | { kind: 'hold-lock'; sessionId: string; ms: number; clockOffsetMs?: number }
  | { kind: 'clock'; sessionId: string; writer: string; count: number; seed: number };

const out = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

/** Codes a worker expects while racing other writers (e.g. a revert index that another writer just hid). */
const EXPECTED_RACE_CODES = new Set(['MESSAGE_NOT_FOUND', 'SNAPSHOT_NOT_FOUND']);

/**
 * A handle that says a session is corrupt: reported (the parent checks the stored log itself and tells
 * the open fork-prefix-cache bug from real damage) instead of ending the writer.
 */
function suspect(op: string, s: string, err: unknown): boolean {
  if (codeOf(err) !== 'CORRUPT_SESSION') return false;
  out({ suspect: { op, s, message: (err as Error).message } });
  return true;
}

function codeOf(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

function openFrom(recipe: Recipe): SessionStore {
  if (recipe.kind === 'file') {
    return openStore({
      dir: recipe.dir,
      durability: recipe.durability ?? 'full',
      ...(recipe.lockTimeoutMs !== undefined ? { lockTimeoutMs: recipe.lockTimeoutMs } : {}),
    });
  }
  return openStore({ url: recipe.url, schema: recipe.schema });
}

/** Replaces Date so `new Date()` / `Date.now()` return `now()` (a clock the job moves). */
function installClock(now: () => number): void {
  const Real = Date;
  class FakeDate extends Real {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(now());
      else super(...(args as [number]));
    }
    static override now(): number {
      return now();
    }
  }
  (globalThis as { Date: DateConstructor }).Date = FakeDate as unknown as DateConstructor;
}

// ---- mix: the crash writer ---------------------------------------------------------------------

async function mix(store: SessionStore, job: Extract<WorkerJob, { kind: 'mix' }>): Promise<void> {
  const rng = new Rng(job.seed);
  const sessions = job.sessions.slice();
  const acked: Array<{ s: string; id: string }> = [];
  const message = (id: string) => ({ id, role: 'user' as const, content: contentFor(id) });
  // First the writes the previous (killed) writer had in flight: the same ids, the same content.
  for (const r of job.retry) {
    out({ intent: { op: r.ids.length > 1 ? 'batch' : 'add', s: r.s, ids: r.ids } });
    await store.addMessages(r.s, r.ids.map(message));
    out({ ack: r.ids.length > 1 ? 'batch' : 'add', s: r.s, ids: r.ids, retried: true });
  }
  for (let n = 0; ; n++) {
    const s = rng.pick(sessions);
    const op = rng.weighted({ add: 30, batch: 20, retry: 5, title: 8, share: 4, unshare: 3, snapshot: 8, revert: 6, unrevert: 5, fork: 3 });
    try {
      switch (op) {
        case 'add':
        case 'batch': {
          const size = op === 'add' ? 1 : rng.range(2, 5);
          const ids = Array.from({ length: size }, (_, k) => `${job.writer}.${n}.${k}.${size}`);
          out({ intent: { op, s, ids } });
          await store.addMessages(s, ids.map(message));
          out({ ack: op, s, ids });
          for (const id of ids) acked.push({ s, id });
          break;
        }
        case 'retry': {
          if (acked.length === 0) break;
          const a = rng.pick(acked);
          const m = await store.addMessage(a.s, message(a.id));
          if (m.id !== a.id) throw new Error(`retry of ${a.id} returned ${m.id}`);
          out({ ack: 'add', s: a.s, ids: [a.id], retried: true });
          break;
        }
        case 'title': {
          const title = `${job.writer} title ${n}`;
          const info = await store.setTitle(s, title);
          out({ ack: 'title', s, title, seq: info.headSeq });
          break;
        }
        case 'share': {
          const { token } = await store.shareSession(s);
          out({ ack: 'share', s, token });
          break;
        }
        case 'unshare':
          await store.unshareSession(s);
          out({ ack: 'unshare', s });
          break;
        case 'snapshot': {
          const snap = await store.createSnapshot(s, { label: `${job.writer}-${n}` });
          out({ ack: 'snapshot', s, id: snap.id, seq: snap.seq });
          break;
        }
        case 'revert': {
          const info = await store.getSessionInfo(s);
          if (info.messageCount === 0) break;
          const after = await store.revertToMessage(s, rng.int(info.messageCount));
          out({ ack: 'revert', s, seq: after.headSeq });
          break;
        }
        case 'unrevert':
          await store.unrevert(s);
          out({ ack: 'unrevert', s });
          break;
        case 'fork': {
          const info = await store.getSessionInfo(s);
          const child = `${job.writer}.f${n}`;
          const opts = info.messageCount > 0 && rng.chance(0.7) ? { id: child, atIndex: rng.int(info.messageCount) } : { id: child };
          const made = await store.forkSession(s, opts);
          out({ ack: 'fork', s, child, forkedFrom: made.forkedFrom });
          sessions.push(child);
          break;
        }
      }
    } catch (err) {
      if (!EXPECTED_RACE_CODES.has(codeOf(err) ?? '') && !suspect(op, s, err)) throw err;
    }
  }
}

// ---- soak: many processes, reads and writes, latency per kind ------------------------------------

async function soak(store: SessionStore, job: Extract<WorkerJob, { kind: 'soak' }>): Promise<void> {
  const rng = new Rng(job.seed);
  const sessions = job.sessions.slice();
  const lat: Record<string, number[]> = {};
  const violations: string[] = [];
  const lastHead = new Map<string, number>();
  const deadline = performance.now() + job.seconds * 1000;
  const message = (id: string) => ({ id, role: rng.chance(0.5) ? ('user' as const) : ('assistant' as const), content: contentFor(id) });
  const time = async <T>(kind: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const v = await fn();
    (lat[kind] ??= []).push(Math.round((performance.now() - t0) * 1000) / 1000);
    return v;
  };
  for (let n = 0; performance.now() < deadline; n++) {
    const s = rng.pick(sessions);
    const op = rng.weighted({
      addMessage: 28,
      addMessages: 12,
      getMessages: 16,
      getSession: 8,
      listSessions: 4,
      forkSession: 4,
      createSnapshot: 8,
      revertToMessage: 5,
      revertToSnapshot: 4,
      unrevert: 5,
      setTitle: 4,
    });
    try {
      switch (op) {
        case 'addMessage':
        case 'addMessages': {
          const size = op === 'addMessage' ? 1 : rng.range(2, 6);
          const ids = Array.from({ length: size }, (_, k) => `${job.writer}.${n}.${k}.${size}`);
          await time(op, () => store.addMessages(s, ids.map(message)));
          out({ ack: 'messages', s, ids });
          break;
        }
        case 'getMessages': {
          const ms = await time(op, () => store.getMessages(s, { includeReverted: rng.chance(0.3) }));
          const seen = new Set<string>();
          for (let i = 0; i < ms.length; i++) {
            if (seen.has(ms[i]!.id)) violations.push(`${s}: message ${ms[i]!.id} read twice`);
            seen.add(ms[i]!.id);
            if (i > 0 && ms[i]!.seq <= ms[i - 1]!.seq) violations.push(`${s}: getMessages not in seq order at ${i}`);
          }
          break;
        }
        case 'getSession': {
          const info = await time(op, () => store.getSessionInfo(s));
          const prev = lastHead.get(s) ?? 0;
          if (info.headSeq < prev) violations.push(`${s}: head went back from ${prev} to ${info.headSeq}`);
          lastHead.set(s, info.headSeq);
          break;
        }
        case 'listSessions':
          await time(op, () => store.listSessions({ limit: 50 }));
          break;
        case 'forkSession': {
          const info = await store.getSessionInfo(s);
          const child = `${job.writer}.f${n}`;
          const opts = info.messageCount > 0 && rng.chance(0.7) ? { id: child, atIndex: rng.int(info.messageCount) } : { id: child };
          const made = await time(op, () => store.forkSession(s, opts));
          const prefixIds = (await store.getMessages(child)).map((m) => m.id);
          out({ ack: 'fork', s, child, forkedFrom: made.forkedFrom, prefixIds });
          sessions.push(child);
          break;
        }
        case 'createSnapshot': {
          const snap = await time(op, () => store.createSnapshot(s));
          out({ ack: 'snapshot', s, id: snap.id, seq: snap.seq });
          break;
        }
        case 'revertToMessage': {
          const info = await store.getSessionInfo(s);
          if (info.messageCount === 0) break;
          await time(op, () => store.revertToMessage(s, rng.int(info.messageCount)));
          out({ ack: 'revert', s });
          break;
        }
        case 'revertToSnapshot': {
          const snaps = await store.listSnapshots(s);
          if (snaps.length === 0) break;
          await time(op, () => store.revertToSnapshot(s, rng.pick(snaps).id));
          out({ ack: 'revert', s });
          break;
        }
        case 'unrevert':
          await time(op, () => store.unrevert(s));
          out({ ack: 'unrevert', s });
          break;
        case 'setTitle':
          await time(op, () => store.setTitle(s, `${job.writer} ${n}`));
          out({ ack: 'title', s });
          break;
      }
    } catch (err) {
      if (!EXPECTED_RACE_CODES.has(codeOf(err) ?? '') && !suspect(op, s, err)) throw err;
      (lat[`${op}.raced`] ??= []).push(0);
    }
  }
  out({ stats: lat, violations });
}

// ---- lock holder and clocks --------------------------------------------------------------------

async function holdLock(store: SessionStore, job: Extract<WorkerJob, { kind: 'hold-lock' }>): Promise<void> {
  if (job.clockOffsetMs !== undefined) {
    const offset = job.clockOffsetMs;
    const realNow = Date.now.bind(Date);
    installClock(() => realNow() + offset);
  }
  await store.driver.append(job.sessionId, 'update', async () => {
    out({ locked: true, pid: process.pid });
    await sleep(job.ms);
    return null;
  });
  out({ released: true });
}

async function clock(store: SessionStore, job: Extract<WorkerJob, { kind: 'clock' }>): Promise<void> {
  const rng = new Rng(job.seed);
  const realNow = Date.now.bind(Date);
  let offset = 0;
  installClock(() => realNow() + offset);
  for (let i = 0; i < job.count; i++) {
    // The clock steps back between writes: by a second, a minute, an hour.
    offset -= rng.pick([1_000, 60_000, 3_600_000, 1]) * rng.range(1, 3);
    const kind = i % 3;
    if (kind === 0) {
      const m = await store.addMessage(job.sessionId, { id: `${job.writer}-${i}`, role: 'user', content: contentFor(`${job.writer}-${i}`) });
      out({ ack: 'add', ids: [m.id], seq: m.seq, at: m.createdAt });
    } else if (kind === 1) {
      const m = await store.addMessage(job.sessionId, { role: 'assistant', content: `generated id ${i}` });
      out({ ack: 'add', ids: [m.id], seq: m.seq, at: m.createdAt, generated: true });
    } else {
      const ms = await store.addMessages(job.sessionId, [
        { id: `${job.writer}-${i}-a`, role: 'user', content: 'a' },
        { id: `${job.writer}-${i}-b`, role: 'assistant', content: 'b' },
      ]);
      out({ ack: 'batch', ids: ms.map((m) => m.id), seq: ms[1]!.seq, at: ms[1]!.createdAt });
      await store.setTitle(job.sessionId, `clock ${i}`);
    }
  }
}

async function main(): Promise<void> {
  const recipe = JSON.parse(process.argv[2]!) as Recipe;
  const job = JSON.parse(process.argv[3]!) as WorkerJob;
  const store = openFrom(recipe);
  if (process.env.CHAOS_WAIT_FOR_GO === '1') {
    // The go message may carry the parts of the job only known at release time (retries, sessions).
    out({ ready: true, pid: process.pid });
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => (text += chunk));
    await new Promise<void>((resolve) => process.stdin.once('end', () => resolve()));
    const patch = text.trim() ? (JSON.parse(text) as Partial<WorkerJob>) : {};
    Object.assign(job, patch);
  }
  try {
    switch (job.kind) {
      case 'mix':
        return await mix(store, job);
      case 'soak':
        return await soak(store, job);
      case 'hold-lock':
        return await holdLock(store, job);
      case 'clock':
        return await clock(store, job);
    }
  } finally {
    await store.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
