/**
 * The file driver on its own, against real files and real child processes: log format and batch
 * atomicity, torn tails and corrupt logs, incremental reads, multi-process locking (including kill -9),
 * the listing index with compaction, the fault-injection seam, symlinks and permissions.
 */
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  CorruptSessionError,
  InvalidInputError,
  LockTimeoutError,
  SessionExistsError,
  SessionNotFoundError,
  StaleSessionError,
  StorageError,
} from '../src/core/errors.js';
import type { StoredEvent } from '../src/core/events.js';
import type { AppendPlan, CorruptionReport, LogTransaction, SessionSummary } from '../src/drivers/driver.js';
import { createFileDriver, type FileDriver, type FileDriverOptions, type FileIO } from '../src/drivers/file.js';
import { createPlan, createdEvent, messageEvent, messagesPlan, summaryFor } from './helpers/file-driver-fixtures.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHILD = 'test/helpers/file-driver-child.ts';

// ---- fixtures ---------------------------------------------------------------------------------

const tmpRoots: string[] = [];
const drivers: FileDriver[] = [];
const children: ChildProcess[] = [];

function tmpRoot(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-file-driver-'));
  tmpRoots.push(d);
  return d;
}

/** A data dir that does not exist yet (the driver must create it, 0700, on the first write). */
function freshDir(): string {
  return path.join(tmpRoot(), 'data');
}

function open(dir: string, options: Partial<FileDriverOptions> = {}): FileDriver {
  const d = createFileDriver({ dir, durability: 'process', ...options });
  drivers.push(d);
  return d;
}

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of drivers.splice(0)) await d.close();
  for (const r of tmpRoots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});

after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

const logFile = (dir: string, id: string) => path.join(dir, 'sessions', `${id}.jsonl`);

function tree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      out.push(path.relative(dir, p));
      if (fs.lstatSync(p).isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

function quarantined(dir: string): string[] {
  const q = path.join(dir, 'quarantine');
  return fs.existsSync(q) ? fs.readdirSync(q).map((n) => path.join(q, n)) : [];
}

function lines(file: string): Record<string, unknown>[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function seed(d: FileDriver, id: string, messages: number, batch = 1): Promise<void> {
  await d.append(id, 'create', createPlan(id));
  for (let i = 0; i < messages; i += batch) {
    const ids = Array.from({ length: Math.min(batch, messages - i) }, (_, k) => `${id}-m${i + k}`);
    await d.append(id, 'update', messagesPlan(id, ids));
  }
}

interface Child {
  child: ChildProcess;
  lines: string[];
  waitFor: (pred: (line: string) => boolean, timeoutMs?: number) => Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function startChild(command: string, args: Record<string, unknown>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, command, JSON.stringify(args)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const out: string[] = [];
  const waiters: Array<() => void> = [];
  let buf = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      out.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
    for (const w of waiters.splice(0)) w();
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => (stderr += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => {
      for (const w of waiters.splice(0)) w();
      resolve({ code, signal, stderr });
    }),
  );
  const waitFor = async (pred: (line: string) => boolean, timeoutMs = 30_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = out.find(pred);
      if (hit !== undefined) return hit;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`child exited before the expected line: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for child output; got ${JSON.stringify(out.slice(-5))}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
  };
  return { child, lines: out, waitFor, exited };
}

async function finished(c: Child): Promise<void> {
  const r = await c.exited;
  assert.equal(r.code, 0, `child failed: ${r.stderr}`);
}

function errno(code: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: injected`);
  e.code = code;
  return e;
}

/**
 * Wraps the real syscalls, remembering which path each fd belongs to, so a test can fail exactly the
 * calls it targets (e.g. "the next write to a session log").
 */
function faultIO() {
  const paths = new Map<number, string>();
  const faults = {
    write: null as null | ((file: string, call: number) => 'fail' | 'half' | 'ok'),
    fsync: null as null | ((file: string) => boolean),
    open: null as null | ((file: string) => boolean),
    ftruncate: false,
    writeCalls: 0,
  };
  const io: Partial<FileIO> = {
    openSync(p, flags, mode) {
      if (faults.open?.(p)) throw errno('EMFILE');
      const fd = fs.openSync(p, flags, mode);
      paths.set(fd, p);
      return fd;
    },
    closeSync(fd) {
      paths.delete(fd);
      fs.closeSync(fd);
    },
    writeSync(fd, buffer, offset = 0, length = buffer.length - offset, position = null) {
      const verdict = faults.write?.(paths.get(fd) ?? '', faults.writeCalls++) ?? 'ok';
      if (verdict === 'fail') throw errno('ENOSPC');
      if (verdict === 'half') return fs.writeSync(fd, buffer, offset, Math.max(1, Math.floor(length / 2)), position);
      return fs.writeSync(fd, buffer, offset, length, position);
    },
    fsyncSync(fd) {
      if (faults.fsync?.(paths.get(fd) ?? '')) throw errno('EIO');
      fs.fsyncSync(fd);
    },
    ftruncateSync(fd, len) {
      if (faults.ftruncate) throw errno('EIO');
      fs.ftruncateSync(fd, len);
    },
  };
  return { io, faults };
}

const isLog = (p: string) => p.endsWith('.jsonl') && p.includes(`${path.sep}sessions${path.sep}`);

// ---- tests ------------------------------------------------------------------------------------

describe('file driver: logs', () => {
  it('round-trips events, strips the batch marker, reads windows by seq', async () => {
    const dir = freshDir();
    const d = open(dir);
    const created = await d.append('s1', 'create', createPlan('s1', 2));
    assert.deepEqual(created.map((e) => e.seq), [1, 2, 3]);
    const more = await d.append('s1', 'update', messagesPlan('s1', ['a', 'b', 'c']));
    assert.deepEqual(more.map((e) => e.seq), [4, 5, 6]);
    assert.equal(await d.head('s1'), 6);
    const all = (await d.readEvents('s1', 0))!;
    assert.deepEqual(all.map((e) => e.seq), [1, 2, 3, 4, 5, 6]);
    assert.ok(all.every((e) => !('more' in e)));
    assert.deepEqual(all[0], createdEvent('s1'));
    assert.deepEqual((await d.readEvents('s1', 4))!.map((e) => e.seq), [5, 6]);
    assert.deepEqual((await d.readEvents('s1', 1, 4))!.map((e) => e.seq), [2, 3, 4]);
    assert.deepEqual((await d.readEvents('s1', 6))!, []);
    assert.deepEqual((await d.readEvents('s1', 2, 2))!, []);
    // On disk: one line per event, `more` on every line of a batch but its last.
    const raw = lines(logFile(dir, 's1'));
    assert.deepEqual(raw.map((l) => l.more ?? false), [true, true, false, true, true, false]);
    // A second instance (another process's view) reads the same.
    const other = open(dir);
    assert.equal(await other.head('s1'), 6);
    assert.deepEqual(await other.readEvents('s1', 0), all);
  });

  it("a stray `more` key on a caller's event neither ends nor extends a batch", async () => {
    const dir = freshDir();
    const d = open(dir);
    await d.append('s1', 'create', createPlan('s1', 0));
    const stray = (more: unknown) => async (tx: LogTransaction): Promise<AppendPlan> => {
      const plan = await messagesPlan('s1', ['a', 'b', 'c'])(tx);
      plan.events.forEach((e) => Object.assign(e, { more }));
      return plan;
    };
    await d.append('s1', 'update', stray(true));
    await d.append('s1', 'update', stray(false));
    const raw = lines(logFile(dir, 's1'));
    assert.deepEqual(raw.map((l) => l.more ?? false), [false, true, true, false, true, true, false]);
    const all = (await open(dir).readEvents('s1', 0))!;
    assert.deepEqual(all.map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7]);
    assert.ok(all.every((e) => !('more' in e)));
  });

  it('enforces seq contiguity and a session.created first event; a fork log may start past 1', async () => {
    const dir = freshDir();
    const d = open(dir);
    await d.append('s', 'create', createPlan('s'));
    const before = fs.readFileSync(logFile(dir, 's'));
    const bad = [
      async () => ({ events: [messageEvent(3, 'x')], summary: summaryFor('s', 3) }),
      async () => ({ events: [messageEvent(2, 'x'), messageEvent(4, 'y')], summary: summaryFor('s', 4) }),
      async () => ({ events: [], summary: summaryFor('s', 1) }),
      async () => ({ events: [{ seq: 2, at: 'now', type: 'nope' } as unknown as StoredEvent], summary: summaryFor('s', 2) }),
      async () => ({ events: [messageEvent(2, 'x')], summary: summaryFor('other', 2) }),
    ];
    for (const plan of bad) await assert.rejects(d.append('s', 'update', plan), InvalidInputError);
    assert.deepEqual(fs.readFileSync(logFile(dir, 's')), before);
    await assert.rejects(
      d.append('t', 'create', async () => ({ events: [messageEvent(1, 'x')], summary: summaryFor('t', 1) })),
      InvalidInputError,
    );
    assert.equal(fs.existsSync(logFile(dir, 't')), false);
    await d.append('fork', 'create', async () => ({
      events: [createdEvent('fork', 5, 's'), messageEvent(6, 'f')],
      summary: summaryFor('fork', 6),
    }));
    assert.equal(await d.head('fork'), 6);
    assert.deepEqual((await d.readEvents('fork', 0))!.map((e) => e.seq), [5, 6]);
    assert.equal(await open(dir).head('fork'), 6);
  });

  it('create on an existing log is SessionExistsError; update on a missing one is SessionNotFoundError', async () => {
    const dir = freshDir();
    const d = open(dir);
    await assert.rejects(d.append('nope', 'update', messagesPlan('nope', ['x'])), SessionNotFoundError);
    assert.equal(fs.existsSync(dir), false, 'an update of a missing session creates nothing');
    await d.append('s', 'create', createPlan('s'));
    await assert.rejects(d.append('s', 'create', createPlan('s')), SessionExistsError);
    await assert.rejects(open(dir).append('s', 'create', createPlan('s')), SessionExistsError);
    await assert.rejects(d.append('nope', 'update', messagesPlan('nope', ['x'])), SessionNotFoundError);
    assert.equal(await d.head('s'), 1);
  });

  it('reads of missing ids (and listings) create no file or directory', async () => {
    const dir = freshDir();
    const d = open(dir);
    assert.equal(await d.head('x'), null);
    assert.equal(await d.readEvents('x', 0), null);
    assert.deepEqual(await d.list({ limit: 10, after: null }), { sessions: [], next: null });
    assert.equal(await d.findByShareTokenHash('ab'), null);
    const ids: string[] = [];
    for await (const id of d.listLogIds()) ids.push(id);
    assert.deepEqual(ids, []);
    await d.remove('x');
    assert.equal(fs.existsSync(dir), false);
    await d.append('s', 'create', createPlan('s'));
    const snapshot = tree(dir);
    assert.equal(await d.head('x'), null);
    assert.equal(await d.readEvents('x', 0), null);
    await d.list({ limit: 10, after: null });
    assert.deepEqual(tree(dir), snapshot);
  });

  it('rejects invalid ids with InvalidInputError and creates nothing', async () => {
    const dir = freshDir();
    const d = open(dir);
    const bad = ['../x', 'a/b', '', 'a\0b', 'x'.repeat(129), '.', '..', 7 as unknown as string];
    for (const id of bad) {
      await assert.rejects(d.head(id), InvalidInputError);
      await assert.rejects(d.readEvents(id, 0), InvalidInputError);
      await assert.rejects(d.append(id, 'create', createPlan('x')), InvalidInputError);
      await assert.rejects(d.append(id, 'update', createPlan('x')), InvalidInputError);
      await assert.rejects(d.remove(id), InvalidInputError);
      await assert.rejects(d.putSummary(summaryFor(id, 1)), InvalidInputError);
    }
    assert.equal(fs.existsSync(dir), false);
  });

  it('a plan returning null writes nothing; a throwing plan writes nothing and its error surfaces', async () => {
    const dir = freshDir();
    const d = open(dir);
    assert.deepEqual(await d.append('n', 'create', async () => null), []);
    assert.equal(fs.existsSync(logFile(dir, 'n')), false);
    await d.append('s', 'create', createPlan('s', 1));
    const before = fs.readFileSync(logFile(dir, 's'));
    const journal = path.join(dir, 'index', 'journal.jsonl');
    const journalBefore = fs.readFileSync(journal);
    let seen = -1;
    assert.deepEqual(
      await d.append('s', 'update', async (tx) => {
        seen = tx.headSeq;
        assert.deepEqual((await tx.readAfter(1)).map((e) => e.seq), [2]);
        return null;
      }),
      [],
    );
    assert.equal(seen, 2);
    const boom = new Error('plan says no');
    await assert.rejects(
      d.append('s', 'update', async () => {
        throw boom;
      }),
      (err) => err === boom,
    );
    await assert.rejects(
      d.append('t', 'create', async () => {
        throw boom;
      }),
      (err) => err === boom,
    );
    assert.deepEqual(fs.readFileSync(logFile(dir, 's')), before);
    assert.deepEqual(fs.readFileSync(journal), journalBefore);
    assert.equal(fs.existsSync(logFile(dir, 't')), false);
    // The lock was released each time.
    assert.deepEqual((await d.append('s', 'update', messagesPlan('s', ['x']))).map((e) => e.seq), [3]);
  });

  it('serialises concurrent appends within one process', async () => {
    const d = open(freshDir());
    await d.append('s', 'create', createPlan('s'));
    await Promise.all(Array.from({ length: 40 }, (_, i) => d.append('s', 'update', messagesPlan('s', [`c${i}`]))));
    const events = (await d.readEvents('s', 0))!;
    assert.deepEqual(events.map((e) => e.seq), Array.from({ length: 41 }, (_, i) => i + 1));
  });
});

describe('file driver: torn writes and corruption', () => {
  it('serves only complete batches; the next append quarantines exactly the cut bytes', async () => {
    const dir = freshDir();
    const reports: CorruptionReport[] = [];
    const d = open(dir, { onCorruption: (r) => reports.push(r) });
    await seed(d, 's', 2);
    const file = logFile(dir, 's');
    const good = fs.readFileSync(file);
    await d.append('s', 'update', messagesPlan('s', ['b1', 'b2', 'b3']));
    const full = fs.readFileSync(file);
    const batch = full.subarray(good.length);
    // Cut inside the batch's last line: its first two lines are complete but marked `more`.
    const cut = batch.lastIndexOf('\n', batch.length - 2) + 10;
    fs.truncateSync(file, good.length + cut);
    for (const reader of [d, open(dir)]) {
      assert.equal(await reader.head('s'), 3);
      assert.deepEqual((await reader.readEvents('s', 0))!.map((e) => e.seq), [1, 2, 3]);
      assert.deepEqual(await reader.readEvents('s', 3), []);
    }
    assert.deepEqual(quarantined(dir), [], 'readers never repair');
    const written = await d.append('s', 'update', messagesPlan('s', ['after']));
    assert.deepEqual(written.map((e) => e.seq), [4]);
    const q = quarantined(dir);
    assert.equal(q.length, 1);
    assert.deepEqual(fs.readFileSync(q[0]!), batch.subarray(0, cut));
    assert.equal(fs.statSync(q[0]!).mode & 0o777, 0o600);
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.kind, 'torn-tail');
    assert.equal(reports[0]!.quarantinedTo, q[0]);
    const after = fs.readFileSync(file);
    assert.deepEqual(after.subarray(0, good.length), good);
    assert.ok(after.subarray(good.length).toString().startsWith('{"seq":4,'), 'the new event starts on a clean line');
    assert.deepEqual((await open(dir).readEvents('s', 0))!.map((e) => e.seq), [1, 2, 3, 4]);
  });

  it('a last event cut at every byte offset: readers see the complete events, one repair per tear', async () => {
    const dir = freshDir();
    const d0 = open(dir);
    await seed(d0, 's', 3);
    const file = logFile(dir, 's');
    const prefix = fs.readFileSync(file);
    await d0.append('s', 'update', messagesPlan('s', ['last']));
    const whole = fs.readFileSync(file);
    const lastLine = whole.subarray(prefix.length);
    const warm = open(dir);
    for (let cut = 1; cut < lastLine.length; cut++) {
      fs.rmSync(path.join(dir, 'quarantine'), { recursive: true, force: true });
      fs.writeFileSync(file, whole);
      assert.equal(await warm.head('s'), 5); // the warm instance has the whole file cached...
      fs.truncateSync(file, prefix.length + cut); // ...then the last write turns out torn
      const cold = open(dir);
      for (const reader of [warm, cold]) {
        assert.equal(await reader.head('s'), 4, `cut ${cut}`);
        assert.deepEqual((await reader.readEvents('s', 0))!.map((e) => e.seq), [1, 2, 3, 4]);
      }
      const reports: CorruptionReport[] = [];
      const writer = open(dir, { onCorruption: (r) => reports.push(r) });
      await writer.append('s', 'update', messagesPlan('s', ['again']));
      assert.equal(reports.length, 1, `cut ${cut}`);
      const q = quarantined(dir);
      assert.equal(q.length, 1);
      assert.deepEqual(fs.readFileSync(q[0]!), lastLine.subarray(0, cut));
      assert.deepEqual((await cold.readEvents('s', 0))!.map((e) => (e.type === 'message.added' ? e.message.id : e.type)), [
        'session.created',
        's-m0',
        's-m1',
        's-m2',
        'again',
      ]);
      await writer.close();
      await cold.close();
    }
  });

  it('a NUL-filled tail (power loss) is ignored by readers and cut by the next writer', async () => {
    const dir = freshDir();
    const reports: CorruptionReport[] = [];
    const d = open(dir, { onCorruption: (r) => reports.push(r) });
    await seed(d, 's', 2);
    const file = logFile(dir, 's');
    const good = fs.readFileSync(file);
    fs.appendFileSync(file, Buffer.alloc(4096));
    assert.equal(await open(dir).head('s'), 3);
    assert.equal(await d.head('s'), 3);
    assert.equal((await d.readEvents('s', 0))!.length, 3);
    await d.append('s', 'update', messagesPlan('s', ['x']));
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.kind, 'torn-tail');
    assert.deepEqual(fs.readFileSync(quarantined(dir)[0]!), Buffer.alloc(4096));
    assert.deepEqual(fs.readFileSync(file).subarray(0, good.length), good);
    assert.equal(await open(dir).head('s'), 4);
  });

  it('a creator that died mid-write leaves no session: readers see none, a create takes the id over', async () => {
    const dir = freshDir();
    const d = open(dir);
    await d.append('other', 'create', createPlan('other'));
    const file = logFile(dir, 's');
    fs.writeFileSync(file, '');
    assert.equal(await d.head('s'), null);
    assert.equal(await d.readEvents('s', 0), null);
    await assert.rejects(d.append('s', 'update', messagesPlan('s', ['x'])), SessionNotFoundError);
    await d.append('s', 'create', createPlan('s'));
    assert.equal(await d.head('s'), 1);
    const torn = Buffer.from(JSON.stringify(createdEvent('t')).slice(0, 40));
    fs.writeFileSync(logFile(dir, 't'), torn);
    assert.equal(await d.head('t'), null);
    assert.equal(await d.readEvents('t', 0), null);
    assert.deepEqual(quarantined(dir), []);
    await d.append('t', 'create', createPlan('t'));
    assert.equal(await open(dir).head('t'), 1);
    assert.deepEqual(fs.readFileSync(quarantined(dir)[0]!), torn);
  });

  for (const [name, bytes] of [
    ['a garbage file', 'this is not json\nat all\n'],
    ['a wrong-shape JSON file', '{"hello":"world"}\n'],
    ['a log whose first event is not session.created', JSON.stringify(messageEvent(1, 'x')) + '\n'],
  ] as const) {
    it(`${name}: CorruptSessionError once, bytes quarantined, then the session is absent`, async () => {
      const dir = freshDir();
      const reports: CorruptionReport[] = [];
      const d = open(dir, { onCorruption: (r) => reports.push(r) });
      await d.append('ok', 'create', createPlan('ok'));
      await d.append('bad', 'create', createPlan('bad'));
      fs.writeFileSync(logFile(dir, 'bad'), bytes);
      const err = await d.head('bad').then(
        () => assert.fail('expected CorruptSessionError'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof CorruptSessionError);
      assert.ok(err.quarantinedTo);
      assert.equal(fs.readFileSync(err.quarantinedTo!, 'utf8'), bytes);
      assert.deepEqual(quarantined(dir), [err.quarantinedTo]);
      assert.equal(reports.length, 1);
      assert.deepEqual(reports[0], { sessionId: 'bad', kind: 'corrupt-log', reason: reports[0]!.reason, quarantinedTo: err.quarantinedTo });
      assert.equal(await d.head('bad'), null);
      assert.equal(await d.readEvents('bad', 0), null);
      assert.equal(await open(dir).readEvents('bad', 0), null);
      const page = await d.list({ limit: 10, after: null });
      assert.deepEqual(page.sessions.map((s) => s.id), ['ok']);
      assert.equal(quarantined(dir).length, 1);
      assert.equal(reports.length, 1);
      // The id is free again.
      await d.append('bad', 'create', createPlan('bad'));
      assert.equal(await d.head('bad'), 1);
    });
  }

  it('damage in the middle of a log (followed by valid events) is corruption, found by a full read', async () => {
    const dir = freshDir();
    const reports: CorruptionReport[] = [];
    const d = open(dir, { onCorruption: (r) => reports.push(r) });
    await seed(d, 's', 4);
    const file = logFile(dir, 's');
    const text = fs.readFileSync(file, 'utf8').split('\n');
    text[2] = '{"seq":3,"at":"x","type":"message.add'; // a damaged line with intact lines after it
    const damaged = text.join('\n');
    fs.writeFileSync(file, damaged);
    // A cold head() only checks the first and last lines; a full read finds the damage.
    const other = open(dir, { onCorruption: (r) => reports.push(r) });
    assert.equal(await other.head('s'), 5);
    await assert.rejects(other.readEvents('s', 0), CorruptSessionError);
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.kind, 'corrupt-log');
    assert.equal(fs.readFileSync(quarantined(dir)[0]!, 'utf8'), damaged);
    assert.equal(await d.readEvents('s', 0), null);
    assert.equal(await d.head('s'), null);
  });

  it('concurrent first accesses to a corrupt log quarantine it exactly once', async () => {
    const dir = freshDir();
    const d = open(dir);
    await d.append('bad', 'create', createPlan('bad'));
    fs.writeFileSync(logFile(dir, 'bad'), 'garbage\n');
    const readers = Array.from({ length: 6 }, () => open(dir));
    const results = await Promise.allSettled(readers.map((r) => r.head('bad')));
    const corrupt = results.filter((r) => r.status === 'rejected' && r.reason instanceof CorruptSessionError);
    assert.equal(corrupt.length, 1);
    assert.ok(results.every((r) => r.status === 'rejected' || r.value === null));
    assert.equal(quarantined(dir).length, 1);
  });
});

describe('file driver: incremental reads', () => {
  it('head() of a long log reads its first and last lines, not the whole file', async () => {
    const dir = freshDir();
    const d = open(dir);
    await seed(d, 's', 2000, 50);
    const size = fs.statSync(logFile(dir, 's')).size;
    const cold = open(dir);
    assert.equal(await cold.head('s'), 2001);
    assert.ok(cold.stats.logBytesRead < size / 10, `read ${cold.stats.logBytesRead} of ${size}`);
    const before = cold.stats.logBytesRead;
    assert.equal(await cold.head('s'), 2001);
    assert.equal(cold.stats.logBytesRead, before, 'an unchanged log is not read again');
  });

  it("sees another process's appends, reading only the new bytes", async () => {
    const dir = freshDir();
    const d = open(dir);
    await seed(d, 's', 300);
    assert.equal(await d.head('s'), 301);
    assert.equal((await d.readEvents('s', 0))!.length, 301);
    const sizeBefore = fs.statSync(logFile(dir, 's')).size;
    const child = startChild('append', { dir, id: 's', writer: 9, count: 3 });
    await finished(child);
    const grown = fs.statSync(logFile(dir, 's')).size - sizeBefore;
    let read = d.stats.logBytesRead;
    assert.equal(await d.head('s'), 304);
    assert.ok(d.stats.logBytesRead - read <= grown, `head read ${d.stats.logBytesRead - read} bytes for ${grown} new`);
    read = d.stats.logBytesRead;
    const fresh = (await d.readEvents('s', 301))!;
    assert.deepEqual(fresh.map((e) => (e.type === 'message.added' ? e.message.id : '')), ['w9-0', 'w9-1', 'w9-2']);
    assert.ok(d.stats.logBytesRead - read <= grown, `readEvents read ${d.stats.logBytesRead - read} bytes for ${grown} new`);
    // A window that ended mid-log resumes from the offset of its last event.
    const first = (await d.readEvents('s', 302, 303))!;
    assert.deepEqual(first.map((e) => e.seq), [303]);
    read = d.stats.logBytesRead;
    assert.deepEqual((await d.readEvents('s', 303))!.map((e) => e.seq), [304]);
    assert.ok(d.stats.logBytesRead - read < grown);
  });

  it('reads a page anywhere in a long log from near it: for the writer, for a reader that scanned it, inside big batches', async () => {
    const dir = freshDir();
    const writer = open(dir);
    // Batches of 500 events (one group each): a page inside a batch must not cost the rest of the batch.
    await seed(writer, 's', 6000, 500);
    const size = fs.statSync(logFile(dir, 's')).size;
    const reader = open(dir);
    assert.equal((await reader.readEvents('s', 0))!.length, 6001);
    for (const d of [writer, reader]) {
      for (const from of [5950, 3100, 1210, 40]) {
        const before = d.stats.logBytesRead;
        const page = (await d.readEvents('s', from, from + 50))!;
        assert.deepEqual(page.map((e) => e.seq), Array.from({ length: 50 }, (_, i) => from + 1 + i));
        assert.deepEqual(page.map((e) => (e.type === 'message.added' ? e.message.id : '')), page.map((e) => `s-m${e.seq - 2}`));
        const read = d.stats.logBytesRead - before;
        assert.ok(read < size / 20, `page after ${from} read ${read} of ${size} bytes`);
      }
    }
    // `limit` returns the first events of the range, also inside a batch and across batches.
    assert.deepEqual((await reader.readEvents('s', 490, undefined, 20))!.map((e) => e.seq), Array.from({ length: 20 }, (_, i) => 491 + i));
    assert.deepEqual((await reader.readEvents('s', 0, 3, 10))!.map((e) => e.seq), [1, 2, 3]);
    await assert.rejects(reader.readEvents('s', 0, undefined, 0), InvalidInputError);
  });

  it('drops its cache when a log is replaced (removed and created again)', async () => {
    const dir = freshDir();
    const d = open(dir);
    await seed(d, 's', 5);
    assert.equal(await d.head('s'), 6);
    const other = open(dir);
    await other.remove('s');
    await other.append('s', 'create', createPlan('s', 1));
    assert.equal(await d.head('s'), 2);
    assert.deepEqual((await d.readEvents('s', 0))!.map((e) => e.seq), [1, 2]);
    await d.append('s', 'update', messagesPlan('s', ['z']));
    assert.equal(await other.head('s'), 3);
  });
});

describe('file driver: multiple processes', () => {
  it('8 processes x 200 appends to one session: 1600 events, gap-free, per-writer order kept', async () => {
    const dir = freshDir();
    const d = open(dir, { durability: 'full' });
    await d.append('mp', 'create', createPlan('mp'));
    const go = path.join(tmpRoot(), 'go');
    const kids = Array.from({ length: 8 }, (_, w) =>
      startChild('append', { dir, id: 'mp', writer: w, count: 200, go, durability: 'full' }),
    );
    await Promise.all(kids.map((k) => k.waitFor((l) => l === 'ready')));
    fs.writeFileSync(go, '');
    await Promise.all(kids.map(finished));
    const events = (await open(dir).readEvents('mp', 0))!;
    assert.equal(events.length, 1601);
    events.forEach((e, i) => assert.equal(e.seq, i + 1));
    const ids = events.slice(1).map((e) => (e.type === 'message.added' ? e.message.id : ''));
    assert.equal(new Set(ids).size, 1600);
    for (let w = 0; w < 8; w++) {
      const mine = ids.filter((id) => id.startsWith(`w${w}-`)).map((id) => Number(id.split('-')[1]));
      assert.deepEqual(mine, Array.from({ length: 200 }, (_, i) => i), `writer ${w} order`);
    }
    assert.equal(await d.head('mp'), 1601);
  });

  it('creates racing on one id from 6 processes: exactly one succeeds', async () => {
    const dir = freshDir();
    const go = path.join(tmpRoot(), 'go');
    const kids = Array.from({ length: 6 }, () => startChild('create', { dir, id: 'race', go }));
    await Promise.all(kids.map((k) => k.waitFor((l) => l === 'ready')));
    fs.writeFileSync(go, '');
    await Promise.all(kids.map(finished));
    const outcomes = kids.map((k) => k.lines[k.lines.length - 1]);
    assert.equal(outcomes.filter((o) => o === 'created').length, 1, JSON.stringify(outcomes));
    assert.equal(outcomes.filter((o) => o === 'error SESSION_EXISTS').length, 5, JSON.stringify(outcomes));
    assert.deepEqual((await open(dir).readEvents('race', 0))!.map((e) => e.seq), [1]);
  });

  it("a lock file left behind (any content: an older version's, a dead process's) does not block writers", async () => {
    const dir = freshDir();
    await open(dir).append('s', 'create', createPlan('s'));
    const lockFile = path.join(dir, 'sessions', 's.lock');
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => dead.on('exit', r));
    const leftovers = [
      JSON.stringify({ pid: dead.pid, host: os.hostname(), token: 'dead', at: new Date().toISOString() }),
      JSON.stringify({ pid: process.ppid, host: os.hostname(), token: 'live-but-not-locking', at: new Date().toISOString() }),
      '',
      'not json',
    ];
    for (const [i, content] of leftovers.entries()) {
      fs.rmSync(lockFile, { force: true });
      fs.writeFileSync(lockFile, content, { mode: 0o600 });
      const t0 = Date.now();
      await open(dir, { lockTimeoutMs: 2_000 }).append('s', 'update', messagesPlan('s', [`m${i}`]));
      assert.ok(Date.now() - t0 < 1_000, `took ${Date.now() - t0} ms`);
    }
    assert.equal(await open(dir).head('s'), 1 + leftovers.length);
  });

  it('a lock file removed and recreated under a kept descriptor is never trusted: the writer locks the new one', async () => {
    const dir = freshDir();
    const d = open(dir);
    await d.append('s', 'create', createPlan('s')); // d now keeps the lock file's descriptor open
    const lockFile = path.join(dir, 'sessions', 's.lock');
    // What a deleter leaves behind when a creator then takes the id: another file at the same path,
    // here locked by a live process. Locking the old descriptor would succeed and guard nothing.
    fs.rmSync(lockFile);
    const holder = startChild('hold', { dir, id: 's', ms: 20_000 });
    await holder.waitFor((l) => l === 'locked');
    const impatient = open(dir, { lockTimeoutMs: 300 });
    await assert.rejects(impatient.append('s', 'update', messagesPlan('s', ['x'])), LockTimeoutError);
    const d2 = createFileDriver({ dir, durability: 'process', lockTimeoutMs: 300 });
    await assert.rejects(d2.append('s', 'update', messagesPlan('s', ['x'])), LockTimeoutError);
    const t0 = Date.now();
    const late = d.append('s', 'update', messagesPlan('s', ['y']));
    const outcome = await Promise.race([late.then(() => 'written'), new Promise((r) => setTimeout(() => r('waiting'), 500))]);
    assert.equal(outcome, 'waiting', 'the kept descriptor locked a removed file');
    holder.child.kill('SIGKILL');
    await holder.exited;
    await late;
    assert.ok(Date.now() - t0 < 5_000);
    assert.deepEqual((await open(dir).readEvents('s', 0))!.map((e) => e.seq), [1, 2]);
  });

  it('4 processes creating, appending to and removing one id: lock files come and go, no two writers ever interleave', async () => {
    const dir = freshDir();
    const go = path.join(tmpRoot(), 'go-churn');
    const kids = Array.from({ length: 4 }, (_, w) => startChild('churn', { dir, id: 'c', go, writer: w, rounds: 160 }));
    await Promise.all(kids.map((k) => k.waitFor((l) => l === 'ready')));
    fs.writeFileSync(go, '');
    await Promise.all(kids.map(finished));
    const tallies = kids.map((k) => JSON.parse(k.lines.find((l) => l.startsWith('tally '))!.slice(6)) as Record<string, number>);
    const sum = (key: string) => tallies.reduce((n, t) => n + t[key]!, 0);
    // The races really happened: ids were created and removed many times, with appends in between.
    assert.ok(sum('created') >= 10 && sum('removed') >= 10 && sum('appended') >= 10, JSON.stringify(tallies));
    // Two writers at once would have written the same seq twice: the reader would call it damage.
    const reports: CorruptionReport[] = [];
    const reader = open(dir, { onCorruption: (r) => reports.push(r) });
    const events = await reader.readEvents('c', 0);
    if (events) assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1));
    assert.deepEqual(reports, []);
    assert.equal(fs.existsSync(path.join(dir, 'quarantine')), false);
    // What is left: the log and its lock file, or neither.
    const left = fs.readdirSync(path.join(dir, 'sessions')).sort();
    assert.ok(left.length === 0 || JSON.stringify(left) === JSON.stringify(['c.jsonl', 'c.lock']), JSON.stringify(left));
  });

  it('a warm handle never writes through its kept descriptor into a log another handle replaced', async () => {
    const dir = freshDir();
    const warm = open(dir);
    await warm.append('s', 'create', createPlan('s'));
    await warm.append('s', 'update', messagesPlan('s', ['old'])); // its write descriptor is kept now
    const other = open(dir);
    await other.remove('s');
    await other.append('s', 'create', createPlan('s'));
    await other.append('s', 'update', messagesPlan('s', ['new']));
    await warm.append('s', 'update', messagesPlan('s', ['warm']));
    const ids = (await open(dir).readEvents('s', 0))!.map((e) => (e.type === 'message.added' ? e.message.id : e.type));
    assert.deepEqual(ids, ['session.created', 'new', 'warm']);
    // And a log moved aside (as quarantine does) under a kept descriptor: the next append finds no log.
    fs.renameSync(logFile(dir, 's'), path.join(dir, 'moved.jsonl'));
    await assert.rejects(warm.append('s', 'update', messagesPlan('s', ['lost?'])), SessionNotFoundError);
    assert.equal(fs.readFileSync(path.join(dir, 'moved.jsonl'), 'utf8').includes('lost?'), false);
  });

  it('an id without a log leaves no lock file: a failed update, a removal', async () => {
    const dir = freshDir();
    const d = open(dir);
    await d.append('s', 'create', createPlan('s'));
    await assert.rejects(d.append('ghost', 'update', messagesPlan('ghost', ['x'])), SessionNotFoundError);
    assert.equal(fs.existsSync(path.join(dir, 'sessions', 'ghost.lock')), false);
    await d.remove('s');
    assert.equal(fs.existsSync(path.join(dir, 'sessions', 's.lock')), false);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'sessions')), []);
    // And the id can be created again, through the same handle and through another.
    await d.append('s', 'create', createPlan('s'));
    await open(dir).append('s', 'update', messagesPlan('s', ['z']));
    assert.equal(await d.head('s'), 2);
  });

  it('a live holder makes a writer time out with LockTimeoutError, writing nothing', async () => {
    const dir = freshDir();
    const d = open(dir, { lockTimeoutMs: 300 });
    await d.append('s', 'create', createPlan('s'));
    const before = fs.readFileSync(logFile(dir, 's'));
    const holder = startChild('hold', { dir, id: 's', ms: 20_000 });
    await holder.waitFor((l) => l === 'locked');
    const t0 = Date.now();
    await assert.rejects(d.append('s', 'update', messagesPlan('s', ['x'])), LockTimeoutError);
    assert.ok(Date.now() - t0 >= 250);
    assert.deepEqual(fs.readFileSync(logFile(dir, 's')), before);
    holder.child.kill('SIGKILL');
    await holder.exited;
    const t1 = Date.now();
    await d.append('s', 'update', messagesPlan('s', ['y']));
    assert.ok(Date.now() - t1 < 5_000);
  });

  it('kill -9 at random moments: every acknowledged event is present once, the next writer is not blocked', async () => {
    const dir = freshDir();
    const d = open(dir);
    await d.append('k', 'create', createPlan('k'));
    const acked = new Map<number, string>();
    for (let run = 0; run < 20; run++) {
      const kid = startChild('loop', { dir, id: 'k', run });
      await kid.waitFor((l) => l.startsWith('ack'));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 40)));
      kid.child.kill('SIGKILL');
      await kid.exited;
      for (const line of kid.lines) {
        const [, seq, id] = line.split(' ');
        acked.set(Number(seq), id!);
      }
      const t0 = Date.now();
      await d.append('k', 'update', messagesPlan('k', [`parent-${run}`]));
      assert.ok(Date.now() - t0 < 5_000, `blocked ${Date.now() - t0} ms after kill ${run}`);
    }
    const events = (await open(dir).readEvents('k', 0))!;
    events.forEach((e, i) => assert.equal(e.seq, i + 1));
    const ids = events.slice(1).map((e) => (e.type === 'message.added' ? e.message.id : ''));
    assert.equal(new Set(ids).size, ids.length, 'no event twice');
    for (const [seq, id] of acked) assert.equal(ids[seq - 2], id, `acknowledged seq ${seq}`);
    assert.ok(acked.size >= 20);
  });
});

describe('file driver: listing index', () => {
  const stamp = (n: number) => new Date(Date.UTC(2030, 0, 1) + n * 1000).toISOString();

  async function populate(d: FileDriver, n: number): Promise<SessionSummary[]> {
    const out: SessionSummary[] = [];
    for (let i = 0; i < n; i++) {
      const id = `s${String(i).padStart(3, '0')}`;
      const extra: Partial<SessionSummary> = {
        updatedAt: stamp((i * 7919) % 97), // many ties: order falls back to id
        agentName: i % 3 === 0 ? 'alpha' : 'beta',
        userId: i % 2 === 0 ? 'u1' : 'u2',
        parentId: i % 10 === 5 ? 's000' : null,
        shareTokenHash: i === 42 ? 'hash-42' : null,
      };
      await d.append(id, 'create', createPlan(id, 0, extra));
      out.push(summaryFor(id, 1, extra));
    }
    return out;
  }

  const order = (a: SessionSummary, b: SessionSummary) =>
    a.updatedAt !== b.updatedAt ? (a.updatedAt > b.updatedAt ? -1 : 1) : a.id > b.id ? -1 : a.id < b.id ? 1 : 0;

  async function allPages(d: FileDriver, q: Record<string, unknown> = {}, limit = 50): Promise<string[]> {
    const ids: string[] = [];
    let after = null;
    for (let pages = 0; pages < 100; pages++) {
      const page = await d.list({ limit, after, ...q });
      assert.ok(page.sessions.length <= limit);
      ids.push(...page.sessions.map((s) => s.id));
      if (!page.next) return ids;
      after = page.next;
    }
    throw new Error('too many pages');
  }

  it('pages through 300 sessions in order exactly once; filters; deleted hidden; share lookup', async () => {
    const dir = freshDir();
    const d = open(dir);
    const all = await populate(d, 300);
    const expected = [...all].sort(order).map((s) => s.id);
    assert.deepEqual(await allPages(d), expected);
    assert.deepEqual(await allPages(open(dir), {}, 7), expected);
    assert.deepEqual(await allPages(d, { agentName: 'alpha' }), [...all].filter((s) => s.agentName === 'alpha').sort(order).map((s) => s.id));
    assert.deepEqual(await allPages(d, { userId: 'u2' }, 13), [...all].filter((s) => s.userId === 'u2').sort(order).map((s) => s.id));
    assert.deepEqual(await allPages(d, { parentId: 's000' }, 4), [...all].filter((s) => s.parentId === 's000').sort(order).map((s) => s.id));
    assert.deepEqual(await allPages(d, { rootsOnly: true, agentName: 'beta' }), [...all].filter((s) => s.parentId === null && s.agentName === 'beta').sort(order).map((s) => s.id));
    assert.equal(await d.findByShareTokenHash('hash-42'), 's042');
    // Deleting (the fence's summary) hides a session; removing drops it.
    await d.append('s042', 'update', messagesPlan('s042', ['bye'], { deleted: true, shareTokenHash: 'hash-42', updatedAt: stamp(500) }));
    await d.remove('s001');
    const remaining = expected.filter((id) => id !== 's042' && id !== 's001');
    assert.deepEqual(await allPages(d), remaining);
    assert.deepEqual(await allPages(open(dir)), remaining);
    assert.equal(await d.findByShareTokenHash('hash-42'), null);
    const withDeleted = await d.list({ limit: 1, after: null, includeDeleted: true });
    assert.deepEqual(withDeleted.sessions.map((s) => s.id), ['s042']);
    const summary = (await d.list({ limit: 1, after: null })).sessions[0]!;
    assert.ok(!('logSize' in summary), 'driver-private fields never leak');
    assert.deepEqual(Object.keys(summary).sort(), Object.keys(summaryFor('x', 1)).sort());
    const ids: string[] = [];
    for await (const id of d.listLogIds()) ids.push(id);
    assert.equal(ids.length, 299);
    await d.remove('s001'); // idempotent
  });

  it("an existing instance sees another process's index writes, reading only the new bytes", async () => {
    const dir = freshDir();
    const d = open(dir);
    await populate(d, 50);
    assert.equal((await d.list({ limit: 100, after: null })).sessions.length, 50);
    const journal = path.join(dir, 'index', 'journal.jsonl');
    const before = fs.statSync(journal).size;
    const read = d.stats.indexBytesRead;
    await finished(startChild('sessions', { dir, prefix: 'x', count: 20 }));
    const page = await d.list({ limit: 100, after: null });
    assert.equal(page.sessions.length, 70);
    assert.equal(page.staleIds, undefined);
    assert.equal(d.stats.indexBytesRead - read, fs.statSync(journal).size - before);
  });

  it('compaction keeps the listing identical, also while another process writes', async () => {
    const dir = freshDir();
    const d = open(dir, { indexCompactMinLines: 40 });
    const all = await populate(d, 30);
    for (let round = 1; round <= 4; round++) {
      for (const s of all) {
        s.updatedAt = stamp(1000 + round * 100 + Number(s.id.slice(1)));
        s.headSeq = round + 1;
        await d.append(s.id, 'update', messagesPlan(s.id, [`${s.id}-r${round}`], { ...s, headSeq: round + 1 }));
      }
    }
    const expected = [...all].sort(order).map((s) => s.id);
    const snapshot = path.join(dir, 'index', 'snapshot.jsonl');
    assert.equal(fs.existsSync(snapshot), false);
    assert.deepEqual(await allPages(d), expected); // this listing notices 150 lines > max(40, 4 x 30) and compacts
    assert.ok(fs.existsSync(snapshot));
    assert.equal(fs.existsSync(path.join(dir, 'index', 'journal.compacting.jsonl')), false);
    assert.deepEqual(await allPages(d), expected);
    assert.deepEqual(await allPages(open(dir)), expected);
    const page = await d.list({ limit: 5, after: null });
    assert.deepEqual(page.sessions.map((s) => s.headSeq), [5, 5, 5, 5, 5]);

    // Now a child rewrites 40 sessions 10 times while we list (and compact) continuously.
    const child = startChild('sessions', { dir, prefix: 'y', count: 40, rounds: 10 });
    const snapshotIds = new Set<number>();
    let done = false;
    void child.exited.then(() => (done = true));
    while (!done) {
      const ids = await allPages(d, {}, 100);
      assert.equal(new Set(ids).size, ids.length, 'no id twice in one listing');
      for (const id of expected) assert.ok(ids.includes(id), `${id} never disappears during compaction`);
      const st = fs.existsSync(snapshot) ? fs.statSync(snapshot) : null;
      if (st) snapshotIds.add(st.ino);
      await new Promise((r) => setTimeout(r, 5));
    }
    await finished(child);
    assert.ok(snapshotIds.size >= 2, 'compacted while the child wrote');
    const ys = Array.from({ length: 40 }, (_, i) => `y-${i}`);
    for (const reader of [d, open(dir)]) {
      const page2 = await reader.list({ limit: 200, after: null });
      const byId = new Map(page2.sessions.map((s) => [s.id, s]));
      assert.equal(page2.sessions.length, 70);
      for (const id of expected) assert.equal(byId.get(id)?.headSeq, 5);
      for (const id of ys) assert.equal(byId.get(id)?.headSeq, 11, `${id} has its last summary`);
      assert.equal(page2.staleIds, undefined);
    }
  });

  it('a crashed compaction (journal.compacting.jsonl left behind) loses nothing and is finished later', async () => {
    const dir = freshDir();
    const d = open(dir);
    const all = await populate(d, 30);
    const index = path.join(dir, 'index');
    fs.renameSync(path.join(index, 'journal.jsonl'), path.join(index, 'journal.compacting.jsonl'));
    for (const s of all.slice(0, 10)) {
      s.updatedAt = stamp(2000 + Number(s.id.slice(1)));
      await d.append(s.id, 'update', messagesPlan(s.id, ['late'], { ...s, headSeq: 2 }));
    }
    const expected = [...all].sort(order).map((s) => s.id);
    assert.deepEqual(await allPages(open(dir)), expected);
    // Grow the new journal past the compaction threshold (4 x 30 entries) with identical summaries.
    for (let round = 0; round < 4; round++) {
      for (const s of all) await d.putSummary({ ...s, headSeq: s.updatedAt >= stamp(2000) ? 2 : 1 });
    }
    const compactor = open(dir, { indexCompactMinLines: 1 });
    assert.deepEqual(await allPages(compactor), expected);
    assert.equal(fs.existsSync(path.join(index, 'journal.compacting.jsonl')), false, 'the leftover was merged');
    assert.ok(fs.existsSync(path.join(index, 'snapshot.jsonl')));
    assert.deepEqual(await allPages(open(dir)), expected);
    assert.deepEqual((await open(dir).list({ limit: 1, after: null })).sessions[0]!.headSeq, 2);
  });

  it('list() over 10 000 sessions is served from memory after the first load', async () => {
    const dir = freshDir();
    fs.mkdirSync(path.join(dir, 'sessions'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'index'));
    const journal: string[] = [];
    const summaries: SessionSummary[] = [];
    for (let i = 0; i < 10_000; i++) {
      const id = `big-${i}`;
      const log = JSON.stringify(createdEvent(id)) + '\n';
      fs.writeFileSync(logFile(dir, id), log);
      const s = summaryFor(id, 1, { updatedAt: stamp(i % 977) });
      summaries.push(s);
      journal.push(JSON.stringify({ ...s, logSize: Buffer.byteLength(log) }));
    }
    fs.writeFileSync(path.join(dir, 'index', 'journal.jsonl'), journal.join('\n') + '\n');
    const d = open(dir);
    const first = await d.list({ limit: 50, after: null });
    assert.deepEqual(first.sessions.map((s) => s.id), [...summaries].sort(order).slice(0, 50).map((s) => s.id));
    const stats = d.stats;
    const second = await d.list({ limit: 50, after: first.next });
    assert.equal(second.sessions.length, 50);
    assert.deepEqual(d.stats, stats, 'no index or log bytes read');
    assert.equal(stats.logBytesRead, 0);
  });

  it('putSummary overwrites an entry at the current head and refuses an outdated one', async () => {
    const dir = freshDir();
    const d = open(dir);
    await seed(d, 's', 2);
    await d.putSummary(summaryFor('s', 3, { title: 'fixed' }));
    assert.equal((await open(dir).list({ limit: 5, after: null })).sessions[0]!.title, 'fixed');
    await assert.rejects(d.putSummary(summaryFor('s', 2)), StaleSessionError);
    await assert.rejects(d.putSummary(summaryFor('missing', 1)), SessionNotFoundError);
  });
});

describe('file driver: fault injection, symlinks, permissions', () => {
  for (const mode of ['fail', 'half'] as const) {
    it(`a log write that fails (ENOSPC${mode === 'half' ? ' after a partial write' : ''}) is StorageError and leaves the log byte-identical`, async () => {
      const dir = freshDir();
      const { io, faults } = faultIO();
      const d = open(dir, { io, durability: 'full' });
      await seed(d, 's', 2);
      const before = fs.readFileSync(logFile(dir, 's'));
      let calls = 0;
      faults.write = (file) => (isLog(file) ? (mode === 'half' && calls++ === 0 ? 'half' : 'fail') : 'ok');
      const err = await d.append('s', 'update', messagesPlan('s', ['a', 'b'])).then(
        () => assert.fail('expected StorageError'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof StorageError);
      assert.equal(err.errno, 'ENOSPC');
      assert.deepEqual(fs.readFileSync(logFile(dir, 's')), before);
      assert.equal(await open(dir).head('s'), 3);
      faults.write = null;
      assert.deepEqual((await d.append('s', 'update', messagesPlan('s', ['a']))).map((e) => e.seq), [4]);
      assert.deepEqual(quarantined(dir), []);
      // A failed create leaves no log at all.
      faults.write = (file) => (isLog(file) ? 'fail' : 'ok');
      await assert.rejects(d.append('c', 'create', createPlan('c')), StorageError);
      assert.equal(fs.existsSync(logFile(dir, 'c')), false);
      faults.write = null;
      await d.append('c', 'create', createPlan('c'));
      assert.equal(await d.head('c'), 1);
    });
  }

  it('an fsync failing with EIO is StorageError and leaves the log byte-identical', async () => {
    const dir = freshDir();
    const { io, faults } = faultIO();
    const d = open(dir, { io, durability: 'full' });
    await seed(d, 's', 1);
    const before = fs.readFileSync(logFile(dir, 's'));
    faults.fsync = (file) => isLog(file);
    const err = await d.append('s', 'update', messagesPlan('s', ['x'])).catch((e: unknown) => e);
    assert.ok(err instanceof StorageError);
    assert.equal(err.errno, 'EIO');
    assert.deepEqual(fs.readFileSync(logFile(dir, 's')), before);
    faults.fsync = null;
    assert.deepEqual((await d.append('s', 'update', messagesPlan('s', ['x']))).map((e) => e.seq), [3]);
  });

  it('when even the rollback fails, the partial batch stays invisible and is cut by the next append', async () => {
    const dir = freshDir();
    const { io, faults } = faultIO();
    const reports: CorruptionReport[] = [];
    const d = open(dir, { io, onCorruption: (r) => reports.push(r) });
    await seed(d, 's', 1);
    let calls = 0;
    faults.write = (file) => (isLog(file) ? (calls++ === 0 ? 'half' : 'fail') : 'ok');
    faults.ftruncate = true;
    await assert.rejects(d.append('s', 'update', messagesPlan('s', ['a', 'b', 'c'])), StorageError);
    faults.write = null;
    faults.ftruncate = false;
    assert.equal(await open(dir).head('s'), 2);
    assert.equal(await d.head('s'), 2);
    assert.deepEqual((await d.append('s', 'update', messagesPlan('s', ['d']))).map((e) => e.seq), [3]);
    assert.equal(reports.length, 1);
    assert.deepEqual((await open(dir).readEvents('s', 0))!.map((e) => e.seq), [1, 2, 3]);
  });

  it('EMFILE while taking the lock is StorageError, nothing written', async () => {
    const dir = freshDir();
    const { io, faults } = faultIO();
    // Seeded by another handle: this one has no lock file descriptor open yet, so it must open one.
    await seed(open(dir), 's', 1);
    const d = open(dir, { io });
    const before = fs.readFileSync(logFile(dir, 's'));
    faults.open = (file) => file.endsWith('.lock');
    const err = await d.append('s', 'update', messagesPlan('s', ['x'])).catch((e: unknown) => e);
    assert.ok(err instanceof StorageError);
    assert.equal(err.errno, 'EMFILE');
    assert.deepEqual(fs.readFileSync(logFile(dir, 's')), before);
    faults.open = null;
    await d.append('s', 'update', messagesPlan('s', ['x']));
  });

  it('a failed index write does not fail the append; list() reports the id stale until repaired', async () => {
    const dir = freshDir();
    const { io, faults } = faultIO();
    const d = open(dir, { io });
    await seed(d, 's', 1);
    faults.write = (file) => (file.endsWith('journal.jsonl') ? 'fail' : 'ok');
    assert.deepEqual((await d.append('s', 'update', messagesPlan('s', ['x']))).map((e) => e.seq), [3]);
    faults.write = null;
    assert.equal(await d.head('s'), 3);
    assert.deepEqual((await d.list({ limit: 5, after: null })).staleIds, ['s']);
    // Another process only has the index: the size recorded with the old summary gives it away.
    const other = open(dir);
    const page = await other.list({ limit: 5, after: null });
    assert.equal(page.sessions[0]!.headSeq, 2);
    assert.deepEqual(page.staleIds, ['s']);
    await d.putSummary(summaryFor('s', 3));
    assert.equal((await d.list({ limit: 5, after: null })).staleIds, undefined);
    assert.equal((await other.list({ limit: 5, after: null })).staleIds, undefined);
    // A create whose index line was lost: a new instance finds the log by name, reports it once.
    faults.write = (file) => (file.endsWith('journal.jsonl') ? 'fail' : 'ok');
    await d.append('c', 'create', createPlan('c'));
    faults.write = null;
    const third = open(dir);
    assert.deepEqual((await third.list({ limit: 5, after: null })).staleIds, ['c']);
    await third.putSummary(summaryFor('c', 1));
    const page2 = await third.list({ limit: 5, after: null });
    assert.equal(page2.staleIds, undefined);
    assert.deepEqual(page2.sessions.map((x) => x.id).sort(), ['c', 's']);
  });

  it('never writes through a symlink: a log replaced by one fails with StorageError', async () => {
    const dir = freshDir();
    const d = open(dir);
    await seed(d, 's', 1);
    const outside = path.join(tmpRoot(), 'outside.txt');
    fs.writeFileSync(outside, 'precious\n');
    fs.rmSync(logFile(dir, 's'));
    fs.symlinkSync(outside, logFile(dir, 's'));
    await assert.rejects(d.append('s', 'update', messagesPlan('s', ['x'])), StorageError);
    await assert.rejects(d.append('s', 'create', createPlan('s')), StorageError);
    await assert.rejects(open(dir).head('s'), StorageError);
    assert.equal(fs.readFileSync(outside, 'utf8'), 'precious\n');
  });

  it('creates the data dir 0700, and logs and lock files 0600', async () => {
    const dir = freshDir();
    const d = open(dir, { durability: 'full' });
    await seed(d, 's', 1);
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(dir, 'sessions')).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(dir, 'index')).mode & 0o777, 0o700);
    assert.equal(fs.statSync(logFile(dir, 's')).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(dir, 'index', 'journal.jsonl')).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(dir, 'sessions', 's.lock')).mode & 0o777, 0o600);
    assert.deepEqual(tree(dir), ['index', 'index/journal.jsonl', 'sessions', 'sessions/s.jsonl', 'sessions/s.lock']);
  });
});
