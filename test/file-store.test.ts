/**
 * The file store through the public API: crash damage, corruption, reads that must create nothing,
 * private permissions, and writers killed with SIGKILL mid-stream.
 */
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { CorruptSessionError, openStore, SessionNotFoundError, type CorruptionReport, type SessionStore } from '../src/index.js';
import { startWorker } from './helpers/spawn.js';

const dirs: string[] = [];
const stores: SessionStore[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'threadloom-fs-'));
  dirs.push(d);
  return d;
}
function open(dir: string, reports?: CorruptionReport[]): SessionStore {
  const s = openStore({ dir, ...(reports ? { onCorruption: (r: CorruptionReport) => reports.push(r) } : {}) });
  stores.push(s);
  return s;
}
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}
const logPath = (dir: string, id: string) => join(dir, 'sessions', `${id}.jsonl`);

describe('file store', () => {
  it('reads and failed writes on missing sessions create nothing, not even the data directory', async () => {
    const dir = join(tempDir(), 'not-yet');
    const store = open(dir);
    assert.equal(await store.sessionExists('ghost'), false);
    await assert.rejects(store.getSession('ghost'), SessionNotFoundError);
    await assert.rejects(store.setTitle('ghost', 't'), SessionNotFoundError);
    await assert.rejects(store.shareSession('ghost'), SessionNotFoundError);
    await assert.rejects(store.forkSession('ghost'), SessionNotFoundError);
    await assert.rejects(store.createSnapshot('ghost'), SessionNotFoundError);
    await assert.rejects(store.createSession({ parentId: 'ghost' }), SessionNotFoundError);
    assert.deepEqual((await store.listSessions()).sessions, []);
    assert.equal(existsSync(dir), false);

    await store.createSession({ id: 'real' });
    const before = tree(dir);
    await assert.rejects(store.addMessage('ghost', { role: 'user', content: 'x' }), SessionNotFoundError);
    await assert.rejects(store.createSession({ id: 'child', parentId: 'ghost' }), SessionNotFoundError);
    assert.equal(await store.sessionExists('ghost'), false);
    assert.deepEqual(tree(dir), before);
  });

  it('keeps the data directory and logs private to the user', async () => {
    const dir = join(tempDir(), 'data');
    const store = open(dir);
    await store.createSession({ id: 'p' });
    await store.addMessage('p', { role: 'user', content: 'secret' });
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(logPath(dir, 'p')).mode & 0o777, 0o600);
  });

  it('writes human-readable JSON lines, one event per line', async () => {
    const dir = tempDir();
    const store = open(dir);
    await store.createSession({ id: 'readable', title: 'T' });
    await store.addMessages('readable', [
      { role: 'user', content: 'a' },
      { role: 'assistant', content: 'b' },
    ]);
    const lines = readFileSync(logPath(dir, 'readable'), 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 3);
    const events = lines.map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => e.seq), [1, 2, 3]);
    assert.deepEqual(events.map((e) => e.type), ['session.created', 'message.added', 'message.added']);
  });

  for (const [name, damage] of [
    ['a torn last line', '{"seq":5,"at":"2026-01-01T00:00:00.000Z","type":"message.ad'],
    ['a NUL-filled tail', '\0'.repeat(300)],
    ['a torn line then NULs', '{"seq":5,"at":"20' + '\0'.repeat(64)],
  ] as const) {
    it(`serves the complete events before ${name}, quarantines the bytes, appends on a clean line`, async () => {
      const dir = tempDir();
      const writer = open(dir);
      await writer.createSession({ id: 'torn' });
      for (const c of ['one', 'two', 'three']) await writer.addMessage('torn', { role: 'user', content: c });
      await writer.close();
      appendFileSync(logPath(dir, 'torn'), damage);

      const reports: CorruptionReport[] = [];
      const store = open(dir, reports);
      assert.deepEqual((await store.getMessages('torn')).map((m) => m.content), ['one', 'two', 'three']);
      assert.equal((await store.listSessions()).sessions.length, 1, 'the listing still works');
      await store.addMessage('torn', { role: 'user', content: 'four' });
      assert.deepEqual((await store.getMessages('torn')).map((m) => m.content), ['one', 'two', 'three', 'four']);
      const tornReports = reports.filter((r) => r.kind === 'torn-tail');
      assert.equal(tornReports.length, 1);
      assert.equal(readFileSync(tornReports[0]!.quarantinedTo, 'latin1'), damage, 'the damaged bytes are preserved exactly');
      for (const line of readFileSync(logPath(dir, 'torn'), 'utf8').trimEnd().split('\n')) JSON.parse(line);
      const fresh = open(dir);
      assert.equal((await fresh.getMessages('torn')).length, 4);
    });
  }

  for (const [name, bytes] of [
    ['garbage', 'this is not json at all\n\x01\x02'],
    ['wrong-shape JSON', '{"session_id":"x","messages":[]}\n'],
    ['an event log that does not start with session.created', '{"seq":1,"at":"2026-01-01T00:00:00.000Z","type":"title.set","title":"x"}\n'],
  ] as const) {
    it(`quarantines ${name} once, reports it, and keeps the listing working`, async () => {
      const dir = tempDir();
      const reports: CorruptionReport[] = [];
      const store = open(dir, reports);
      await store.createSession({ id: 'good' });
      writeFileSync(logPath(dir, 'bad'), bytes);
      const err = await store.getSession('bad').catch((e: unknown) => e);
      assert.ok(err instanceof CorruptSessionError, String(err));
      assert.equal(reports.length, 1);
      assert.equal(reports[0]!.kind, 'corrupt-log');
      assert.equal(readFileSync(reports[0]!.quarantinedTo, 'latin1'), bytes);
      await assert.rejects(store.getSession('bad'), SessionNotFoundError);
      assert.equal(reports.length, 1, 'quarantined exactly once');
      assert.deepEqual((await store.listSessions()).sessions.map((s) => s.id), ['good']);
      const quarantined = tree(join(dir, 'quarantine'));
      assert.equal(quarantined.length, 1);
    });
  }

  it('durability "process" stores and reads the same', async () => {
    const dir = tempDir();
    const fast = openStore({ dir, durability: 'process' });
    stores.push(fast);
    await fast.createSession({ id: 'fast' });
    await fast.addMessages('fast', [{ role: 'user', content: 'x' }]);
    assert.equal((await open(dir).getMessages('fast')).length, 1);
  });

  it('kill -9 of writers in a loop: every acknowledged batch is present exactly once, none partially, the next writer proceeds', async () => {
    const dir = tempDir();
    const store = open(dir);
    await store.createSession({ id: 'kill' });
    const acked = new Set<string>();
    const rounds = 12;
    for (let round = 0; round < rounds; round++) {
      const run = startWorker({ kind: 'file', dir }, { kind: 'append-forever', sessionId: 'kill', writer: `r${round}`, batch: 3 });
      // Kill once it is well into its writes, at a varying moment.
      const target = 5 + ((round * 7) % 20);
      while (run.acks.length < target) {
        await new Promise((r) => setTimeout(r, 5));
        if (run.child.exitCode !== null) throw new Error(`worker died early`);
      }
      await new Promise((r) => setTimeout(r, round % 4));
      run.child.kill('SIGKILL');
      await run.done;
      for (const a of run.acks as Array<{ ids: string[] }>) for (const id of a.ids) acked.add(id);
      // The next writer must not be blocked by a lock the dead one held.
      const started = Date.now();
      await store.addMessage('kill', { role: 'user', content: `after round ${round}` });
      assert.ok(Date.now() - started < 5000, 'a dead writer\'s lock blocks for at most a few seconds');
    }
    const messages = await open(dir).getMessages('kill');
    const ids = messages.map((m) => m.id);
    assert.equal(new Set(ids).size, ids.length, 'no duplicates');
    for (const id of acked) assert.ok(ids.includes(id), `acknowledged ${id} present`);
    // Batches are atomic: a batch's three messages are all present or all absent.
    const batches = new Map<string, number>();
    for (const id of ids.filter((i) => i.startsWith('r'))) {
      const key = id.slice(0, id.lastIndexOf('-'));
      batches.set(key, (batches.get(key) ?? 0) + 1);
    }
    for (const [key, n] of batches) assert.equal(n, 3, `batch ${key} is whole`);
    const events = await store.driver.readEvents('kill', 0);
    events!.forEach((e, i) => assert.equal(e.seq, i + 1));
  });
});
