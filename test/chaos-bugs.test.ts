/**
 * Regression tests for the bugs the chaos campaign (npm run chaos) found, each a minimal reproduction
 * (listed in chaos/known-bugs.ts, all fixed).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, it } from 'node:test';
import { CorruptSessionError, LockTimeoutError, ThreadloomError, openStore, type SessionStore } from '../src/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HOLDER = path.join(ROOT, 'test', 'helpers', 'file-driver-child.ts');
const dirs: string[] = [];
const stores: SessionStore[] = [];
const kids: Array<ReturnType<typeof spawn>> = [];
function fresh(options: { lockTimeoutMs?: number } = {}): { dir: string; open: () => SessionStore } {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'threadloom-chaos-bug-'));
  dirs.push(dir);
  return {
    dir,
    open: () => {
      const s = openStore({ dir, ...options });
      stores.push(s);
      return s;
    },
  };
}
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const k of kids.splice(0)) k.kill('SIGKILL');
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** The session's write lock, taken and held by a live process (not this one) until the test ends. */
async function holdLockWithLiveProcess(dir: string, id: string): Promise<void> {
  const holder = spawn(process.execPath, ['--import', 'tsx', HOLDER, 'hold', JSON.stringify({ dir, id, ms: 600_000 })], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  kids.push(holder);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    holder.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.split('\n').includes('locked')) resolve();
    });
    holder.once('exit', (code) => reject(new Error(`lock holder exited (${code}) before locking`)));
  });
}

describe('regressions: bugs found by the chaos campaign', () => {
  it(
    'forks of a fork at different inherited messages read their own prefix from one handle',
    async () => {
      const { open } = fresh();
      const s = open();
      await s.createSession({ id: 'r' });
      await s.addMessage('r', { id: 'a', role: 'user', content: 'a' });
      await s.addMessage('r', { id: 'b', role: 'user', content: 'b' });
      await s.forkSession('r', { id: 'f' }); // f inherits [a, b]; its log starts at seq 4
      await s.forkSession('f', { id: 'g1', atMessageId: 'a' }); // forkedFrom {a, seq 4}
      await s.forkSession('f', { id: 'g2', atMessageId: 'b' }); // forkedFrom {b, seq 4}
      const reader = open();
      assert.deepEqual((await reader.getMessages('g1')).map((m) => m.id), ['a']);
      assert.deepEqual((await reader.getMessages('g2')).map((m) => m.id), ['a', 'b']); // gets ['a']
    },
  );

  it(
    'a fork that fails on the parent lock leaves no child behind (and a retry with the same id works)',
    async () => {
      const { dir, open } = fresh({ lockTimeoutMs: 200 });
      const s = open();
      await s.createSession({ id: 'p' });
      await s.addMessage('p', { role: 'user', content: 'x' });
      await holdLockWithLiveProcess(dir, 'p');
      await assert.rejects(s.forkSession('p', { id: 'c' }), LockTimeoutError);
      assert.equal(await s.sessionExists('c'), false); // true: the failed fork left c
      await assert.rejects(s.createSession({ id: 'c2', parentId: 'p' }), LockTimeoutError);
      assert.equal(await s.sessionExists('c2'), false);
    },
  );

  it(
    "a live process's lock is not stolen because the waiter's clock is ahead of the holder's",
    async () => {
      const { dir, open } = fresh({ lockTimeoutMs: 300 });
      const s = open();
      await s.createSession({ id: 'p' });
      const before = fs.readFileSync(path.join(dir, 'sessions', 'p.jsonl'));
      await holdLockWithLiveProcess(dir, 'p');
      // What the lock file of a holder whose clock is an hour behind looks like; the kernel's lock
      // does not care, but a lock judged by file age (as before 2026-12-02) would have been stolen.
      const anHourAgo = new Date(Date.now() - 3_600_000);
      fs.utimesSync(path.join(dir, 'sessions', 'p.lock'), anHourAgo, anHourAgo);
      await assert.rejects(s.addMessage('p', { role: 'user', content: 'x' }), LockTimeoutError); // the write goes through
      assert.deepEqual(fs.readFileSync(path.join(dir, 'sessions', 'p.jsonl')), before);
    },
  );

  it(
    'a log line with a valid envelope but a malformed body is CorruptSessionError, never a raw TypeError',
    async () => {
      const { dir, open } = fresh();
      const s = open();
      await s.createSession({ id: 'x' });
      await s.addMessage('x', { role: 'user', content: 'hi' });
      await s.close();
      const file = path.join(dir, 'sessions', 'x.jsonl');
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      for (const body of [
        '{"seq":2,"at":"2026-01-01T00:00:00.000Z","type":"snapshot.created"}',
        '{"seq":2,"at":"2026-01-01T00:00:00.000Z","type":"metadata.patched"}',
        '{"seq":2,"at":"2026-01-01T00:00:00.000Z","type":"share.enabled"}',
      ]) {
        lines[1] = body;
        fs.writeFileSync(file, lines.join('\n'));
        const reader = open();
        for (const call of [() => reader.getSession('x'), () => reader.addMessage('x', { role: 'user', content: 'y' })]) {
          const err = await call().then(
            () => null,
            (e: unknown) => e,
          );
          // Today: TypeError "Cannot read properties of undefined (reading 'id')" / "Cannot convert undefined or null to object".
          assert.ok(err === null || err instanceof ThreadloomError, `${body}: ${String(err)}`);
          if (err !== null) assert.ok(err instanceof CorruptSessionError, `${body}: ${String(err)}`);
        }
      }
    },
  );
});
