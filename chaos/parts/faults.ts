/**
 * Part 3, faults.
 * - File driver, through its `io` seam: ENOSPC, EIO, EACCES and EMFILE injected on each write-path
 *   call in turn (open, write, fsync, close, ftruncate, fstat, rename, unlink, mkdir — of logs, locks,
 *   the index journal and quarantine files), once, for good (disk full), or after a short write. Each
 *   fault must give a typed StorageError carrying the injected errno (never a raw Error), leave no
 *   partial event visible (the log byte-identical, or a torn tail readers ignore), and a retry of the
 *   same call (same message ids) once the fault is gone must store it exactly once.
 * - PostgreSQL: pg_terminate_backend on the driver's connections during a stream of batch appends.
 * - Lock contention: a live process holds a session's lock; a writer with lockTimeoutMs 200 fails
 *   with LockTimeoutError and changes nothing.
 * - Clock moving backwards in a writer process: seq order, and getMessages order, are unchanged.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  LockTimeoutError,
  SessionExistsError,
  SessionNotFoundError,
  SessionStore,
  StorageError,
  ThreadloomError,
  createFileDriver,
  openStore,
} from '../../src/index.js';
import type { FileIO } from '../../src/drivers/file.js';
import { firstDifference } from '../lib/ledger.js';
import { adminClient, dropSchema, freshSchema, rawPgLogs, requirePg, withAppName } from '../lib/pg.js';
import { parseRawLog, readAllRawLogs } from '../lib/rawlog.js';
import { Recorder } from '../lib/recorder.js';
import { startWorker } from '../lib/spawn.js';
import type { ChaosConfig, PartResult } from '../lib/types.js';
import { describeError, diffFingerprints, fingerprint, sleep, tempDir } from '../lib/util.js';

export async function faults(config: ChaosConfig): Promise<PartResult> {
  const rec = new Recorder('faults');
  await ioFaults(config, rec);
  await lockContention(config, rec);
  await clockBackwards(config, rec);
  if (await requirePg(config, rec, 'faults (postgres)')) await pgTerminate(config, rec);
  return rec.result();
}

// ---- file driver: the io seam -----------------------------------------------------------------

const ERRNOS = ['ENOSPC', 'EIO', 'EACCES', 'EMFILE'] as const;
type Errno = (typeof ERRNOS)[number];
type Mode = 'once' | 'sticky' | 'short-write';
type Fn = keyof FileIO;
const FNS: Fn[] = ['openSync', 'writeSync', 'fsyncSync', 'closeSync', 'ftruncateSync', 'fstatSync', 'renameSync', 'unlinkSync', 'mkdirSync'];

function errno(code: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: injected by the chaos campaign`);
  e.code = code;
  return e;
}

/** Wraps the real syscalls; numbers every call, and fails the planned ones. */
class FaultIO {
  calls: Array<{ fn: Fn; file: string }> = [];
  plan: { at: number; code: Errno; mode: Mode } | null = null;
  injected = 0;
  private readonly paths = new Map<number, string>();
  readonly io: Partial<FileIO>;

  constructor() {
    const real = fs as unknown as Record<Fn, (...args: unknown[]) => unknown>;
    const io: Record<string, (...args: unknown[]) => unknown> = {};
    for (const fn of FNS) {
      io[fn] = (...args: unknown[]) => {
        const idx = this.calls.length;
        const file = typeof args[0] === 'number' ? (this.paths.get(args[0]) ?? `fd ${args[0]}`) : String(args[0]);
        this.calls.push({ fn, file });
        const p = this.plan;
        const hit = p !== null && (idx === p.at || (p.mode !== 'once' && idx > p.at && (p.mode === 'sticky' || fn === 'writeSync')));
        if (hit) {
          if (p.mode === 'short-write' && fn === 'writeSync' && idx === p.at) {
            // A short write: half the bytes reach the file, the next write call fails.
            const [fd, buf, off = 0, len = (buf as Uint8Array).length - (off as number)] = args as [number, Uint8Array, number?, number?];
            this.injected++;
            return fs.writeSync(fd, buf, off, Math.max(1, Math.floor(len / 2)), null);
          }
          this.injected++;
          if (fn === 'closeSync') fs.closeSync(args[0] as number); // close fails but the fd is gone (Linux)
          throw errno(p.code);
        }
        const result = real[fn](...args);
        if (fn === 'openSync') this.paths.set(result as number, String(args[0]));
        if (fn === 'closeSync') this.paths.delete(args[0] as number);
        return result;
      };
    }
    this.io = io as unknown as Partial<FileIO>;
  }
}

interface Scenario {
  name: string;
  /** Builds the state before the call (in `dir`, the store's directory). */
  setup(dir: string): Promise<void>;
  /** The sessions whose state is compared. */
  sessions: string[];
  op(store: SessionStore): Promise<unknown>;
  /** The same call again once the fault is gone (same ids); default: `op`. */
  retryOk?: (err: unknown, store: SessionStore) => boolean;
}

const msg = (id: string) => ({ id, role: 'user' as const, content: `content of ${id}` });

async function seed(dir: string, extra?: (s: SessionStore) => Promise<void>): Promise<void> {
  const s = openStore({ dir });
  await s.createSession({ id: 's', title: 'before', metadata: { k: 1, gone: true } });
  await s.addMessages('s', ['m1', 'm2', 'm3'].map(msg));
  await extra?.(s);
  await s.close();
}

const SCENARIOS: Scenario[] = [
  { name: 'create (first write: directories)', setup: async () => undefined, sessions: ['s'], op: (s) => s.createSession({ id: 's', title: 'T' }) },
  {
    name: 'create',
    setup: (d) => seed(d),
    sessions: ['s', 'n'],
    op: (s) => s.createSession({ id: 'n', title: 'new', metadata: { a: 1 } }),
  },
  { name: 'addMessage', setup: (d) => seed(d), sessions: ['s'], op: (s) => s.addMessage('s', msg('new1')) },
  { name: 'addMessages (batch of 3)', setup: (d) => seed(d), sessions: ['s'], op: (s) => s.addMessages('s', ['b1', 'b2', 'b3'].map(msg)) },
  {
    name: 'addMessage after a torn tail (repair + quarantine)',
    setup: async (d) => {
      await seed(d);
      fs.appendFileSync(path.join(d, 'sessions', 's.jsonl'), '{"seq":5,"at":"2026-01-01T00:00:00.000Z","type":"message.ad');
    },
    sessions: ['s'],
    op: (s) => s.addMessage('s', msg('new1')),
  },
  { name: 'setTitle', setup: (d) => seed(d), sessions: ['s'], op: (s) => s.setTitle('s', 'after') },
  { name: 'updateMetadata', setup: (d) => seed(d), sessions: ['s'], op: (s) => s.updateMetadata('s', { k: 2, gone: null }) },
  { name: 'createSnapshot', setup: (d) => seed(d), sessions: ['s'], op: (s) => s.createSnapshot('s', { label: 'L' }) },
  { name: 'revertToMessage', setup: (d) => seed(d), sessions: ['s'], op: (s) => s.revertToMessage('s', 'm1') },
  { name: 'shareSession', setup: (d) => seed(d), sessions: ['s'], op: (s) => s.shareSession('s') },
  { name: 'forkSession', setup: (d) => seed(d), sessions: ['s', 'f'], op: (s) => s.forkSession('s', { id: 'f', atIndex: 1, title: 'fork' }) },
  {
    name: 'deleteSession',
    setup: (d) => seed(d),
    sessions: ['s'],
    op: (s) => s.deleteSession('s'),
    // A deletion that wrote its fence reads as deleted; retrying it then says it is not found.
    retryOk: (err) => err instanceof SessionNotFoundError,
  },
];

const QUICK = new Set(['create (first write: directories)', 'addMessage', 'addMessages (batch of 3)', 'addMessage after a torn tail (repair + quarantine)', 'forkSession']);

/** What a caller can observe of the scenario's sessions (timestamps and random ids left out). */
async function observe(store: SessionStore, ids: readonly string[]): Promise<string> {
  const out: Record<string, unknown> = {};
  for (const id of ids) {
    try {
      const s = await store.getSession(id);
      const all = await store.getMessages(id, { includeReverted: true });
      out[id] = {
        title: s.title,
        metadata: s.metadata,
        headSeq: s.headSeq,
        parentId: s.parentId,
        forkedFrom: s.forkedFrom,
        shared: s.shared,
        visible: s.messages.map((m) => [m.id, m.seq, m.content]),
        all: all.map((m) => m.id),
        snapshots: s.snapshots.length,
        revert: s.revert ? s.revert.toMessageId : null,
      };
    } catch (err) {
      out[id] = err instanceof SessionNotFoundError ? 'absent' : `error ${describeError(err)}`;
    }
  }
  const listed = (await store.listSessions({ limit: 100 })).sessions.map((s) => [s.id, s.headSeq, s.messageCount]);
  return JSON.stringify({ sessions: out, listed: listed.sort() });
}

async function ioFaults(config: ChaosConfig, rec: Recorder): Promise<void> {
  const root = tempDir('faults');
  let runs = 0;
  for (const sc of SCENARIOS) {
    if (config.quick && !QUICK.has(sc.name)) continue;
    const template = path.join(root, `template-${runs}`);
    fs.mkdirSync(template, { recursive: true });
    const dataOf = (base: string) => path.join(base, 'data');
    await sc.setup(dataOf(template));
    // The fault-free run: its call trace, and what a caller then sees.
    const goldenBase = path.join(root, `golden-${runs}`);
    fs.cpSync(template, goldenBase, { recursive: true });
    const trace = new FaultIO();
    const goldenStore = new SessionStore(createFileDriver({ dir: dataOf(goldenBase), io: trace.io }));
    await sc.op(goldenStore);
    await goldenStore.close();
    const golden = await withFresh(dataOf(goldenBase), (s) => observe(s, sc.sessions));
    const pre = await withFresh(dataOf(template), (s) => observe(s, sc.sessions));
    const calls = trace.calls;
    const modes: Array<{ mode: Mode; codes: readonly Errno[] }> = config.quick
      ? [{ mode: 'once', codes: ERRNOS }]
      : [
          { mode: 'once', codes: ERRNOS },
          { mode: 'sticky', codes: ['ENOSPC', 'EIO'] },
          { mode: 'short-write', codes: ['ENOSPC'] },
        ];
    for (let at = 0; at < calls.length; at++) {
      for (const { mode, codes } of modes) {
        if (mode === 'short-write' && calls[at]!.fn !== 'writeSync') continue;
        for (const code of codes) {
          runs++;
          const base = path.join(root, `run-${runs}`);
          fs.cpSync(template, base, { recursive: true });
          await oneFault(rec, sc, dataOf(base), { at, code, mode }, `${sc.name}: ${code} (${mode}) on call ${at} ${calls[at]!.fn}(${path.basename(calls[at]!.file)})`, pre, golden);
          fs.rmSync(base, { recursive: true, force: true });
        }
      }
    }
    rec.count('io.scenarios');
  }
  rec.count('io.runs', runs);
  config.log(`  faults/io: ${runs} injected runs over ${rec.counters['io.scenarios']} calls kinds; ${Object.entries(rec.counters).filter(([k]) => k.startsWith('fault.')).map(([k, v]) => `${k.slice(6)} ${v}`).join(', ')}`);
}

async function withFresh<T>(dir: string, fn: (s: SessionStore) => Promise<T>): Promise<T> {
  const s = openStore({ dir });
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

async function oneFault(
  rec: Recorder,
  sc: Scenario,
  dir: string,
  plan: { at: number; code: Errno; mode: Mode },
  where: string,
  pre: string,
  golden: string,
): Promise<void> {
  const logsBefore = new Map<string, Buffer>();
  const sessionsDir = path.join(dir, 'sessions');
  if (fs.existsSync(sessionsDir)) for (const n of fs.readdirSync(sessionsDir)) if (n.endsWith('.jsonl')) logsBefore.set(n, fs.readFileSync(path.join(sessionsDir, n)));
  const fio = new FaultIO();
  fio.plan = plan;
  const store = new SessionStore(createFileDriver({ dir, io: fio.io, lockTimeoutMs: 3000 }));
  let failed: unknown = null;
  let ambiguous = false;
  try {
    await sc.op(store);
  } catch (err) {
    failed = err;
  }
  rec.count(`fault.${plan.code}`, fio.injected);
  try {
    if (fio.injected === 0) {
      rec.count('io.notReached');
      return;
    }
    if (failed !== null) {
      rec.count('io.failedCalls');
      if (!(failed instanceof ThreadloomError)) rec.fail(`${where}: untyped error ${describeError(failed)}`);
      else if (!(failed instanceof StorageError)) rec.fail(`${where}: ${failed.constructor.name} instead of StorageError: ${failed.message}`);
      else if (failed.errno !== plan.code) rec.fail(`${where}: StorageError carries errno ${failed.errno}, injected ${plan.code}`);
      // Nothing partial is visible: the logs are what they were, plus at most a torn tail.
      for (const [name, before] of logsBefore) {
        const file = path.join(sessionsDir, name);
        if (!fs.existsSync(file)) {
          if (sc.name !== 'deleteSession') rec.lost(`${where}: log ${name} disappeared`);
          continue;
        }
        const after = fs.readFileSync(file);
        const was = parseRawLog(before);
        const now = parseRawLog(after);
        const tornBefore = was.tail.length > 0;
        if (!after.subarray(0, was.validEnd).equals(before.subarray(0, was.validEnd))) rec.corrupted(`${where}: complete events of ${name} were changed`);
        const newEvents = now.events.slice(was.events.length);
        const fenceOnly = sc.name === 'deleteSession' && newEvents.every((e) => e.type === 'session.deleted');
        if (newEvents.length > 0 && plan.mode === 'sticky') {
          // The disk kept failing, the rollback (ftruncate/unlink) included: the outcome is unknown to
          // the caller, like a lost reply. Allowed if the retry then ends exactly like the fault-free run.
          ambiguous = true;
        } else if (newEvents.length > 0 && !fenceOnly) rec.corrupted(`${where}: a failed call left ${newEvents.length} complete event(s) in ${name}`);
        if (now.problems.length > 0) rec.corrupted(`${where}: ${name}: ${now.problems.join('; ')}`);
        if (!tornBefore && now.tail.length > 0) rec.count('io.tornTailsLeft');
      }
      const leftChild = sc.name === 'forkSession' && (readAllRawLogs(dir).get('f')?.events.length ?? 0) > 0;
      if (leftChild && plan.mode !== 'once') {
        // The disk kept failing (every call, or every later write), the cleanup included: like a lost
        // reply, the outcome is unknown.
        ambiguous = true;
      } else if (leftChild) {
        // A one-off fault: the failed fork must have removed its child (bug B2, fixed).
        rec.known('failed-fork-leaves-child', `${where}: the failed fork left child f behind`);
        return;
      }
      for (const [name, log] of readAllRawLogs(dir)) {
        if (!logsBefore.has(`${name}.jsonl`) && log.events.length > 0) {
          // With the disk failing on (every call, or every later write), cleanup cannot happen either.
          if (plan.mode !== 'once') ambiguous = true;
          else rec.corrupted(`${where}: a failed call created ${name} with ${log.events.length} event(s)`);
        }
      }
      if (ambiguous) rec.count('io.ambiguousOutcomes');
      const seen = await withFresh(dir, (s) => observe(s, sc.sessions)).catch((e: unknown) => `error ${describeError(e)}`);
      if (seen !== pre && sc.name !== 'deleteSession' && !ambiguous) rec.corrupted(`${where}: after the failed call a fresh handle sees ${diffView(pre, seen)}`);
      // The fault is gone: the same call again (same ids) lands exactly once.
      fio.plan = null;
      try {
        await sc.op(store);
      } catch (err) {
        const createdAnyway = ambiguous && err instanceof SessionExistsError && (sc.name.startsWith('create') || sc.name === 'forkSession');
        if (!createdAnyway && !sc.retryOk?.(err, store)) {
          if (sc.name === 'forkSession' && err instanceof SessionExistsError) rec.known('failed-fork-leaves-child', `${where}: retry says ${err.message}`);
          else rec.fail(`${where}: the retry failed: ${describeError(err)}`);
          return;
        }
      }
    } else {
      rec.count('io.toleratedFaults');
    }
    const final = await withFresh(dir, (s) => observe(s, sc.sessions)).catch((e: unknown) => `error ${describeError(e)}`);
    // After an unknown outcome the retry may apply a call a second time, as after a lost reply: a
    // non-idempotent call (title, metadata, snapshot, revert) then adds one more event. Messages, the
    // thing that must never be lost or doubled, must still be exactly the fault-free run's.
    const sameUpToReplay = ambiguous && withoutReplayCounters(final) === withoutReplayCounters(golden);
    if (sameUpToReplay && final !== golden) rec.count('io.ambiguousReplayed');
    if (final !== golden && !sameUpToReplay) {
      const bad = diffView(golden, final);
      if (/"all"/.test(bad) || /headSeq/.test(bad)) rec.corrupted(`${where}: final state differs from the fault-free run: ${bad}`);
      else rec.fail(`${where}: final state differs from the fault-free run: ${bad}`);
    }
    for (const [name, log] of readAllRawLogs(dir)) {
      if (log.problems.length > 0) rec.corrupted(`${where}: ${name}: ${log.problems.join('; ')}`);
      const ids = log.events.filter((e) => e.type === 'message.added').map((e) => (e.message as { id: string }).id);
      if (new Set(ids).size !== ids.length) rec.duplicated(`${where}: ${name} stores a message twice`);
    }
  } finally {
    await store.close();
  }
}

function diffView(want: string, got: string): string {
  const a = JSON.parse(want) as Record<string, unknown>;
  let b: Record<string, unknown>;
  try {
    b = JSON.parse(got) as Record<string, unknown>;
  } catch {
    return got.slice(0, 300);
  }
  const parts: string[] = [];
  const sa = a.sessions as Record<string, unknown>;
  const sb = b.sessions as Record<string, unknown>;
  for (const k of Object.keys(sa)) {
    if (JSON.stringify(sa[k]) !== JSON.stringify(sb[k])) parts.push(`${k}: ${JSON.stringify(sb[k]).slice(0, 200)} instead of ${JSON.stringify(sa[k]).slice(0, 200)}`);
  }
  if (JSON.stringify(a.listed) !== JSON.stringify(b.listed)) parts.push(`listing ${JSON.stringify(b.listed)} instead of ${JSON.stringify(a.listed)}`);
  return parts.join('; ');
}

// ---- lock contention ---------------------------------------------------------------------------

async function lockContention(config: ChaosConfig, rec: Recorder): Promise<void> {
  const dir = tempDir('lock');
  await seed(dir, async (s) => {
    await s.createSnapshot('s');
    await s.forkSession('s', { id: 'child' });
  });
  const snapshotId = (await withFresh(dir, (s) => s.listSnapshots('s')))[0]!.id;
  const lockFile = path.join(dir, 'sessions', 's.lock');
  const holders: Array<{ name: string; start: () => Promise<() => Promise<void>> }> = [
    {
      // Another driver on the same directory in this very process, inside its append: its lock is held
      // through another descriptor, so it must exclude this process's other stores too.
      name: 'another store in this process inside its append',
      start: async () => {
        const other = createFileDriver({ dir, durability: 'process' });
        let finish!: () => void;
        const holding = new Promise<void>((resolve) => (finish = resolve));
        let locked!: () => void;
        const isLocked = new Promise<void>((resolve) => (locked = resolve));
        const inside = other.append('s', 'update', async () => {
          locked();
          await holding;
          return null;
        });
        await isLocked;
        return async () => {
          finish();
          await inside;
          await other.close();
        };
      },
    },
    {
      // A real writer process inside its append (the plan sleeps while holding the lock).
      name: 'a writer process inside its append',
      start: async () => {
        const w = startWorker({ kind: 'file', dir }, { kind: 'hold-lock', sessionId: 's', ms: 60_000 });
        await w.waitFor((l) => l.locked === true);
        return () => w.kill();
      },
    },
  ];
  const ops: Array<[string, (s: SessionStore) => Promise<unknown>]> = [
    ['addMessage', (s) => s.addMessage('s', msg('x1'))],
    ['addMessages', (s) => s.addMessages('s', ['x2', 'x3'].map(msg))],
    ['setTitle', (s) => s.setTitle('s', 'locked out')],
    ['updateMetadata', (s) => s.updateMetadata('s', { z: 1 })],
    ['createSnapshot', (s) => s.createSnapshot('s')],
    ['revertToMessage', (s) => s.revertToMessage('s', 0)],
    ['revertToSnapshot', (s) => s.revertToSnapshot('s', snapshotId)],
    ['unrevert', (s) => s.unrevert('s')],
    ['clearSession', (s) => s.clearSession('s')],
    ['shareSession', (s) => s.shareSession('s')],
    ['addCompactionCheckpoint', (s) => s.addCompactionCheckpoint('s', { summary: 'sum', throughIndex: 0 })],
    ['deleteSession', (s) => s.deleteSession('s')],
    ['forkSession', (s) => s.forkSession('s', { id: 'locked-fork' })],
    ['createSession (child of s)', (s) => s.createSession({ id: 'locked-child', parentId: 's' })],
  ];
  for (const holder of holders) {
    const stop = await holder.start();
    const lockBytes = fs.readFileSync(lockFile);
    try {
      for (const [name, op] of ops) {
        const before = fingerprint(dir, (rel) => rel.startsWith('quarantine'));
        const store = openStore({ dir, lockTimeoutMs: 200 });
        const t0 = performance.now();
        let err: unknown = null;
        try {
          await op(store);
        } catch (e) {
          err = e;
        }
        const waited = performance.now() - t0;
        await store.close();
        rec.count('fault.lock-contention');
        const where = `${holder.name}: ${name}`;
        const changes = diffFingerprints(before, fingerprint(dir, (rel) => rel.startsWith('quarantine')));
        if (!(err instanceof LockTimeoutError)) {
          rec.fail(`${where}: expected LockTimeoutError, got ${err === null ? 'success' : describeError(err)}`);
        } else if (waited < 180 || waited > 3000) rec.fail(`${where}: LockTimeoutError after ${Math.round(waited)} ms (lockTimeoutMs 200)`);
        // The index journal is append-only and derived: a failed fork may add its child's entry and then
        // its removal. That is no change as long as the listing shows no such session.
        const indexOnly = changes.length > 0 && changes.every((c) => /^(changed|added) index\//.test(c));
        if (indexOnly) {
          const check = openStore({ dir });
          const listed = (await check.listSessions({ limit: 1000 })).sessions.map((x) => x.id);
          await check.close();
          if (listed.some((id) => /locked-(fork|child)/.test(id))) rec.fail(`${where}: the failed call's session is listed: ${listed.join(', ')}`);
          else rec.count('fault.lock-contention.indexOnlyChanges');
        } else if (changes.length > 0) {
          const onlyChild = changes.every((c) => /locked-(fork|child)/.test(c) || /^changed index\//.test(c) || /^added index\//.test(c));
          if ((name.startsWith('forkSession') || name.startsWith('createSession')) && onlyChild && err instanceof LockTimeoutError) {
            rec.known('failed-fork-leaves-child', `${where}: ${changes.join(', ')}`);
            // Put the directory back as it was for the next operation.
            for (const c of changes) {
              const rel = c.replace(/^(added|changed) /, '');
              if (c.startsWith('added ') && /locked-(fork|child)/.test(rel)) fs.rmSync(path.join(dir, rel), { force: true });
            }
          } else rec.fail(`${where}: a call that failed on the lock changed files: ${changes.join(', ')}`);
        }
        if (!fs.readFileSync(lockFile).equals(lockBytes)) rec.fail(`${where}: the live holder's lock file was changed (stolen?)`);
      }
    } finally {
      await stop();
    }
    // Once the holder is dead, the next writer gets the lock within a few seconds.
    const t0 = performance.now();
    await withFresh(dir, (s) => s.addMessage('s', msg(`after-${holder.name.length}`)));
    const waited = performance.now() - t0;
    if (waited > 5000) rec.fail(`${holder.name}: after the holder died the next writer waited ${Math.round(waited)} ms`);
  }
  config.log(`  faults/lock: ${rec.counters['fault.lock-contention'] ?? 0} calls against a held lock`);
}

// ---- clock moving backwards ----------------------------------------------------------------------

async function clockBackwards(config: ChaosConfig, rec: Recorder): Promise<void> {
  const dir = tempDir('clock');
  await withFresh(dir, (s) => s.createSession({ id: 'clk' }));
  const count = config.quick ? 12 : 60;
  const w = startWorker({ kind: 'file', dir }, { kind: 'clock', sessionId: 'clk', writer: 'c', count, seed: config.seed });
  const done = await w.done;
  if (done.code !== 0) {
    rec.fail(`clock writer failed: ${done.stderr.slice(0, 500)}`);
    return;
  }
  const acks = w.lines.filter((l) => l.ack);
  const ackedIds = acks.flatMap((l) => l.ids as string[]);
  const ats = acks.map((l) => Date.parse(l.at as string));
  let backwards = 0;
  for (let i = 1; i < ats.length; i++) if (ats[i]! < ats[i - 1]!) backwards++;
  rec.count('fault.clock-step-back', backwards);
  rec.check(backwards > 0, 'clock: the fake clock never moved back (the test did not test anything)');
  await withFresh(dir, async (s) => {
    const ms = await s.getMessages('clk');
    const ids = ms.map((m) => m.id);
    const d = firstDifference(ids, ackedIds);
    if (d) rec.corrupted(`clock: getMessages order is not the write order: ${d}`);
    for (let i = 1; i < ms.length; i++) if (ms[i]!.seq <= ms[i - 1]!.seq) rec.corrupted(`clock: getMessages not in seq order at ${i}`);
    if (new Set(ids).size !== ids.length) rec.duplicated('clock: generated ids collide');
    const listed = (await s.listSessions()).sessions.some((x) => x.id === 'clk');
    rec.check(listed, 'clock: the session is not listed');
  });
  const raw = readAllRawLogs(dir).get('clk')!;
  raw.events.forEach((e, i) => {
    if (e.seq !== i + 1) rec.corrupted(`clock: raw seq ${e.seq} at line ${i}`);
  });
  // A live writer whose clock runs an hour behind holds the lock: another writer must wait, not steal it.
  const holder = startWorker({ kind: 'file', dir }, { kind: 'hold-lock', sessionId: 'clk', ms: 1500, clockOffsetMs: -3_600_000 });
  try {
    await holder.waitFor((l) => l.locked === true);
    const store = openStore({ dir, lockTimeoutMs: 400 });
    let err: unknown = null;
    try {
      await store.addMessage('clk', msg('while-held'));
    } catch (e) {
      err = e;
    }
    await store.close();
    rec.count('fault.clock-skewed-holder');
    if (!(err instanceof LockTimeoutError)) {
      rec.known('lock-stolen-on-clock-skew', `a writer ${err === null ? 'wrote while' : `got ${describeError(err)} while`} a live holder with its clock 1 h behind held the lock`);
    }
  } finally {
    await holder.kill();
  }
  config.log(`  faults/clock: ${count} writes with the clock stepping back ${backwards} times`);
}

// ---- PostgreSQL: connections terminated mid-stream ----------------------------------------------

async function pgTerminate(config: ChaosConfig, rec: Recorder): Promise<void> {
  const schema = freshSchema('tl_chaos_term');
  const app = `tl_chaos_${schema.slice(-6)}`;
  const admin = await adminClient(config.pgUrl);
  const store = openStore({ url: withAppName(config.pgUrl, app), schema });
  const BATCHES = config.quick ? 20 : 200;
  const SIZE = 6;
  let done = false;
  let terminated = 0;
  let failedAttempts = 0;
  const halfSeen: string[] = [];
  try {
    await store.createSession({ id: 'stream' });
    const killer = (async () => {
      while (!done) {
        const r = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND state IN ('active', 'idle in transaction')`,
          [app],
        );
        terminated += r.rows.length;
        await sleep(2 + Math.random() * 20);
      }
    })();
    const observer = (async () => {
      while (!done) {
        const r = await admin.query(`SELECT event->'message'->>'id' AS id FROM "${schema}".events WHERE session_id = 'stream' AND event->>'type' = 'message.added'`);
        const per = new Map<string, number>();
        for (const row of r.rows as Array<{ id: string }>) per.set(row.id.split('.')[1]!, (per.get(row.id.split('.')[1]!) ?? 0) + 1);
        for (const [b, n] of per) if (n !== SIZE) halfSeen.push(`batch ${b}: ${n} of ${SIZE}`);
        await sleep(5);
      }
    })();
    try {
      for (let b = 0; b < BATCHES; b++) {
        const batch = Array.from({ length: SIZE }, (_, k) => msg(`t.${b}.${k}.${SIZE}`));
        for (let attempt = 0; ; attempt++) {
          try {
            await store.addMessages('stream', batch);
            break;
          } catch (err) {
            failedAttempts++;
            if (!(err instanceof ThreadloomError) || !['STORAGE_ERROR', 'DRIVER_UNAVAILABLE'].includes(err.code)) {
              rec.fail(`postgres: a terminated connection gave ${describeError(err)}`);
            }
            if (attempt > 50) throw err;
            await sleep(3);
          }
        }
      }
    } finally {
      done = true;
      await killer;
      await observer;
    }
    for (const h of halfSeen.slice(0, 5)) rec.corrupted(`postgres: half a batch was visible: ${h}`);
    const raw = (await rawPgLogs(admin, schema)).get('stream') ?? [];
    raw.forEach((e, i) => {
      if (e.seq !== i + 1) rec.corrupted(`postgres: seq ${e.seq} at position ${i}`);
    });
    const ids = raw.filter((e) => e.type === 'message.added').map((e) => (e.message as { id: string }).id);
    if (new Set(ids).size !== ids.length) rec.duplicated(`postgres: ${ids.length - new Set(ids).size} message(s) stored twice after retries`);
    if (new Set(ids).size !== BATCHES * SIZE) rec.lost(`postgres: ${BATCHES * SIZE - new Set(ids).size} acknowledged message(s) missing`);
    rec.count('fault.pg_terminate_backend', terminated);
    rec.count('pg.failedAttemptsRetried', failedAttempts);
    rec.count('pg.ackedWritesVerified', BATCHES * SIZE);
    config.log(`  faults/postgres: ${terminated} backends terminated, ${failedAttempts} failed attempts retried, ${BATCHES} batches of ${SIZE}`);
  } finally {
    await store.close();
    await dropSchema(admin, schema).catch(() => undefined);
    await admin.end();
  }
}

/** An observed state without what a replayed non-message call changes: head seqs and snapshot counts. */
function withoutReplayCounters(observed: string): string {
  return observed
    .replace(/"headSeq":\d+/g, '"headSeq":_')
    .replace(/"snapshots":\d+/g, '"snapshots":_')
    .replace(/\["([^"]+)",\d+,(\d+)\]/g, '["$1",_,$2]');
}
