/**
 * Writes to one session that arrive while another is in flight are committed together: one append, one
 * lock, one fsync. Each call keeps its own verdict, decided in arrival order against the state the calls
 * before it left, exactly as if they had run one by one.
 */
import assert from 'node:assert/strict';
import { fsyncSync, mkdtempSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { InvalidInputError, SessionStore, StaleSessionError, StorageError, openStore } from '../src/index.js';
import { createFileDriver } from '../src/drivers/file.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A durable file store whose fsyncs are counted, and whose next log write can be made to fail. */
function countingStore(): { store: SessionStore; dir: string; fsyncs: () => number; failNextLogWrite: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'threadloom-batch-'));
  dirs.push(dir);
  let fsyncs = 0;
  let failNext = false;
  const driver = createFileDriver({
    dir,
    durability: 'full',
    io: {
      fsyncSync: (fd) => {
        fsyncs++;
        fsyncSync(fd);
      },
      writeSync: (fd, buffer, offset, length, position) => {
        if (failNext && Buffer.from(buffer).includes('"message.added"')) {
          failNext = false;
          throw Object.assign(new Error('EIO: injected'), { code: 'EIO' });
        }
        return writeSync(fd, buffer, offset, length, position);
      },
    },
  });
  return { store: new SessionStore(driver), dir, fsyncs: () => fsyncs, failNextLogWrite: () => (failNext = true) };
}

const logLines = (dir: string, id: string) =>
  readFileSync(join(dir, 'sessions', `${id}.jsonl`), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { seq: number; type: string; message?: { id: string } });

it('20 concurrent addMessage calls on one session: every message once, in call order, in far fewer fsyncs', async () => {
  const { store, dir, fsyncs } = countingStore();
  try {
    await store.createSession({ id: 's' });
    const before = fsyncs();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.addMessage('s', { id: `m${i}`, role: 'user', content: `m${i}` })),
    );
    const used = fsyncs() - before;
    assert.ok(used <= 3, `20 calls used ${used} fsyncs`);
    assert.deepEqual(
      results.map((m) => m.id),
      Array.from({ length: 20 }, (_, i) => `m${i}`),
    );
    assert.deepEqual(
      results.map((m) => m.seq),
      Array.from({ length: 20 }, (_, i) => i + 2),
    );
    const raw = logLines(dir, 's');
    assert.deepEqual(
      raw.map((e) => e.seq),
      Array.from({ length: 21 }, (_, i) => i + 1),
    );
    // What another handle reads from disk is what the callers were told.
    const other = openStore({ dir });
    assert.deepEqual(await other.getMessages('s'), results);
    await other.close();
  } finally {
    await store.close();
  }
});

it('each call in a batch keeps its own verdict: a stale expectedSeq or a conflicting id fails alone', async () => {
  const { store } = countingStore();
  try {
    await store.createSession({ id: 's' });
    await store.addMessage('s', { id: 'first', role: 'user', content: 'first' }); // head 2
    const calls = [
      store.addMessage('s', { id: 'a', role: 'user', content: 'a' }, { expectedSeq: 2 }), // ok: head 2 → 3
      store.setTitle('s', 'stale', { expectedSeq: 2 }), // stale: a moved the head to 3
      store.addMessage('s', { id: 'first', role: 'user', content: 'different' }), // conflicting id
      store.addMessage('s', { id: 'first', role: 'user', content: 'first' }), // idempotent retry: the stored one
      store.setTitle('s', 'fresh', { expectedSeq: 3 }), // ok: expects what a left
      store.addMessage('s', { id: 'b', role: 'assistant', content: 'b' }),
    ];
    const [a, stale, conflict, retry, fresh, b] = await Promise.allSettled(calls);
    const value = (r: PromiseSettledResult<unknown> | undefined) => {
      assert.equal(r?.status, 'fulfilled', r?.status === 'rejected' ? String(r.reason) : '');
      return (r as PromiseFulfilledResult<{ seq?: number }>).value;
    };
    const reason = (r: PromiseSettledResult<unknown> | undefined) => {
      assert.equal(r?.status, 'rejected');
      return (r as PromiseRejectedResult).reason as unknown;
    };
    value(a);
    assert.ok(reason(stale) instanceof StaleSessionError);
    assert.ok(reason(conflict) instanceof InvalidInputError);
    assert.equal(value(retry).seq, 2);
    value(fresh);
    assert.equal(value(b).seq, 5);
    const info = await store.getSessionInfo('s');
    assert.equal(info.title, 'fresh');
    assert.equal(info.headSeq, 5);
    assert.deepEqual(
      (await store.getMessages('s')).map((m) => m.id),
      ['first', 'a', 'b'],
    );
  } finally {
    await store.close();
  }
});

it('a batch whose append fails fails every call in it, writes nothing, and the next write works', async () => {
  const { store, dir, failNextLogWrite } = countingStore();
  try {
    await store.createSession({ id: 's' });
    await store.addMessage('s', { id: 'before', role: 'user', content: 'x' });
    // The first call goes alone; the failure hits the batch of the four queued behind it.
    const first = store.addMessage('s', { id: 'alone', role: 'user', content: 'alone' });
    failNextLogWrite();
    const queued = Array.from({ length: 4 }, (_, i) => store.addMessage('s', { id: `q${i}`, role: 'user', content: `q${i}` }));
    const settled = await Promise.allSettled([first, ...queued]);
    const failed = settled.filter((r) => r.status === 'rejected');
    for (const r of failed) assert.ok((r as PromiseRejectedResult).reason instanceof StorageError);
    const stored = logLines(dir, 's').filter((e) => e.type === 'message.added').map((e) => e.message!.id);
    const acked = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value.id] : []));
    assert.deepEqual(stored, ['before', ...acked], 'exactly the acknowledged calls are stored');
    assert.ok(failed.length >= 1, 'the injected failure failed at least one call');
    const again = await store.addMessage('s', { id: 'after', role: 'user', content: 'after' });
    assert.equal(again.seq, 3 + acked.length);
    assert.deepEqual(
      (await store.getMessages('s')).map((m) => m.id),
      ['before', ...acked, 'after'],
    );
  } finally {
    await store.close();
  }
});
