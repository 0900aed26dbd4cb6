/**
 * The behavioural contract of threadloom, run against every driver (see test/*.conformance.test.ts).
 * Every case goes through the public API; where the backend allows it, writes are also checked through
 * a raw read of the backend so that a bug shared by a driver's read and write paths cannot hide.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  InvalidInputError,
  MessageNotFoundError,
  openStore,
  SessionExistsError,
  SessionNotFoundError,
  SnapshotNotFoundError,
  StaleSessionError,
  type SessionStore,
} from '../../src/index.js';
import type { DriverHarness, OpenedStore } from './harness.js';
import { runWorkers } from '../helpers/spawn.js';
import { runJob, type Job } from '../helpers/worker.js';

const BAD_IDS = ['', '.', '..', '../x', 'a/b', 'a\\b', 'a\0b', 'x'.repeat(129), 'spa ce', 'é'];

export function testDriver(harness: DriverHarness): void {
  describe(`conformance: ${harness.name}`, () => {
    let opened: OpenedStore;
    let store: SessionStore;
    before(async () => {
      opened = await harness.open();
      store = opened.store;
    });
    after(async () => {
      await opened.cleanup();
    });

    /**
     * Runs jobs concurrently: as separate OS processes when the backend is shared between processes,
     * else as concurrent handles in this process (a process-local backend has no other processes).
     */
    const runConcurrently = async (jobs: Job[]): Promise<unknown[][]> => {
      if (opened.recipe) return (await runWorkers(opened.recipe, jobs)).map((r) => r.acks);
      return Promise.all(
        jobs.map(async (job) => {
          const handle = opened.reopen();
          const acks: unknown[] = [];
          await runJob(handle, job, (a) => acks.push(a));
          return acks;
        }),
      );
    };
    const contents = async (id: string) => (await store.getMessages(id)).map((m) => m.content);
    const addN = async (id: string, n: number, prefix = 'm') => {
      const out = [];
      for (let i = 0; i < n; i++) out.push(await store.addMessage(id, { role: i % 2 ? 'assistant' : 'user', content: `${prefix}${i}` }));
      return out;
    };

    describe('sessions', () => {
      it('creates with all fields and reads them back', async () => {
        const info = await store.createSession({ id: 's-create', title: 'T', agentName: 'agent', userId: 'u1', metadata: { a: 1, nested: { b: [1, 2] } } });
        assert.equal(info.id, 's-create');
        assert.equal(info.title, 'T');
        assert.equal(info.agentName, 'agent');
        assert.equal(info.userId, 'u1');
        assert.deepEqual(info.metadata, { a: 1, nested: { b: [1, 2] } });
        assert.equal(info.parentId, null);
        assert.equal(info.forkedFrom, null);
        assert.equal(info.messageCount, 0);
        assert.equal(info.shared, false);
        assert.equal(info.headSeq, 1);
        assert.ok(!Number.isNaN(Date.parse(info.createdAt)));
        const s = await store.getSession('s-create');
        assert.deepEqual(s.messages, []);
        assert.deepEqual(s.snapshots, []);
        assert.equal(s.revert, null);
        assert.equal(await store.sessionExists('s-create'), true);
        assert.equal(await store.sessionExists('s-nope'), false);
      });

      it('generates sortable ids when none is given', async () => {
        const a = await store.createSession();
        const b = await store.createSession();
        assert.notEqual(a.id, b.id);
        assert.ok(a.id < b.id, 'UUIDv7 ids sort by creation');
      });

      it('refuses an existing id without touching it', async () => {
        await store.createSession({ id: 's-dup', title: 'first' });
        await store.addMessage('s-dup', { role: 'user', content: 'keep me' });
        await assert.rejects(store.createSession({ id: 's-dup', title: 'second' }), SessionExistsError);
        const s = await store.getSession('s-dup');
        assert.equal(s.title, 'first');
        assert.equal(s.messages.length, 1);
      });

      it('refuses a missing parent and creates nothing', async () => {
        await assert.rejects(store.createSession({ id: 's-orphan', parentId: 'no-such-parent' }), SessionNotFoundError);
        assert.equal(await store.sessionExists('s-orphan'), false);
        assert.equal(await store.sessionExists('no-such-parent'), false);
      });

      it('rejects invalid ids everywhere, never sanitising them', async () => {
        for (const bad of BAD_IDS) {
          await assert.rejects(store.createSession({ id: bad }), InvalidInputError, `create ${JSON.stringify(bad)}`);
          await assert.rejects(store.getSession(bad), InvalidInputError);
          await assert.rejects(store.addMessage(bad, { role: 'user', content: 'x' }), InvalidInputError);
          await assert.rejects(store.sessionExists(bad), InvalidInputError);
        }
        assert.equal(await store.sessionExists('a_b'), false);
        const ids = [];
        for await (const id of store.driver.listLogIds()) ids.push(id);
        assert.ok(!ids.some((id) => id.includes('/') || id.includes('..')));
      });

      it('fails every operation on a missing session with SessionNotFoundError and creates nothing', async () => {
        const id = 'never-created';
        const ops: Array<[string, () => Promise<unknown>]> = [
          ['getSession', () => store.getSession(id)],
          ['getSessionInfo', () => store.getSessionInfo(id)],
          ['addMessage', () => store.addMessage(id, { role: 'user', content: 'x' })],
          ['addMessages', () => store.addMessages(id, [{ role: 'user', content: 'x' }])],
          ['getMessages', () => store.getMessages(id)],
          ['getChatHistory', () => store.getChatHistory(id)],
          ['setTitle', () => store.setTitle(id, 't')],
          ['updateMetadata', () => store.updateMetadata(id, { a: 1 })],
          ['clearSession', () => store.clearSession(id)],
          ['deleteSession', () => store.deleteSession(id)],
          ['forkSession', () => store.forkSession(id)],
          ['getChildren', () => store.getChildren(id)],
          ['getParent', () => store.getParent(id)],
          ['getSessionTree', () => store.getSessionTree(id)],
          ['createSnapshot', () => store.createSnapshot(id)],
          ['listSnapshots', () => store.listSnapshots(id)],
          ['revertToSnapshot', () => store.revertToSnapshot(id, 'x')],
          ['revertToMessage', () => store.revertToMessage(id, 0)],
          ['unrevert', () => store.unrevert(id)],
          ['shareSession', () => store.shareSession(id)],
          ['unshareSession', () => store.unshareSession(id)],
          ['isShared', () => store.isShared(id)],
          ['exportSession', () => store.exportSession(id)],
          ['addCompactionCheckpoint', () => store.addCompactionCheckpoint(id, { summary: 's', throughIndex: 0 })],
        ];
        for (const [name, op] of ops) await assert.rejects(op(), SessionNotFoundError, name);
        assert.equal(await store.driver.head(id), null);
        assert.equal(await store.sessionExists(id), false);
        const page = await store.listSessions({ limit: 1000 });
        assert.ok(!page.sessions.some((s) => s.id === id));
      });

      it('sets titles and patches metadata (null removes a key)', async () => {
        await store.createSession({ id: 's-meta', metadata: { keep: 1, drop: 2 } });
        const t = await store.setTitle('s-meta', 'New title');
        assert.equal(t.title, 'New title');
        const m = await store.updateMetadata('s-meta', { drop: null, added: { deep: true } });
        assert.deepEqual(m.metadata, { keep: 1, added: { deep: true } });
        await store.setTitle('s-meta', null);
        assert.equal((await store.getSession('s-meta')).title, null);
        await assert.rejects(store.setTitle('s-meta', 42 as unknown as string), InvalidInputError);
        await assert.rejects(store.updateMetadata('s-meta', 'x' as unknown as Record<string, unknown>), InvalidInputError);
      });

      it('clears messages softly: hidden, kept in the log, restorable through a snapshot', async () => {
        await store.createSession({ id: 's-clear' });
        await addN('s-clear', 3);
        const snap = await store.createSnapshot('s-clear');
        const info = await store.clearSession('s-clear');
        assert.equal(info.messageCount, 0);
        assert.equal((await store.getMessages('s-clear', { includeReverted: true })).length, 3);
        await store.revertToSnapshot('s-clear', snap.id);
        assert.deepEqual(await contents('s-clear'), ['m0', 'm1', 'm2']);
      });

      it('lists newest update first with cursor pagination and filters', async () => {
        const tag = `list-${Date.now()}`;
        const ids: string[] = [];
        for (let i = 0; i < 7; i++) {
          const s = await store.createSession({ id: `${tag}-${i}`, agentName: tag, userId: i % 2 ? `${tag}-odd` : `${tag}-even` });
          ids.push(s.id);
        }
        await new Promise((r) => setTimeout(r, 5)); // updatedAt has millisecond resolution
        await store.addMessage(`${tag}-2`, { role: 'user', content: 'bump' });
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const page = await store.listSessions({ agentName: tag, limit: 3, cursor });
          assert.ok(page.sessions.length <= 3);
          seen.push(...page.sessions.map((s) => s.id));
          cursor = page.nextCursor;
        } while (cursor);
        assert.equal(seen.length, 7);
        assert.equal(new Set(seen).size, 7);
        assert.equal(seen[0], `${tag}-2`, 'the session updated last comes first');
        const infos = (await store.listSessions({ agentName: tag, limit: 100 })).sessions;
        for (let i = 1; i < infos.length; i++) assert.ok(infos[i - 1]!.updatedAt >= infos[i]!.updatedAt);
        const odd = await store.listSessions({ userId: `${tag}-odd`, limit: 100 });
        assert.deepEqual(odd.sessions.map((s) => s.id).sort(), [1, 3, 5].map((i) => `${tag}-${i}`));
        const child = await store.createSession({ id: `${tag}-child`, parentId: `${tag}-0`, agentName: tag });
        const kids = await store.listSessions({ parentId: `${tag}-0` });
        assert.deepEqual(kids.sessions.map((s) => s.id), [child.id]);
        const roots = await store.listSessions({ agentName: tag, rootsOnly: true, limit: 100 });
        assert.ok(!roots.sessions.some((s) => s.id === child.id));
        assert.equal(roots.sessions.length, 7);
        for (const s of infos) assert.ok(!('token' in s) && !('shareTokenHash' in s));
        await assert.rejects(store.listSessions({ limit: 0 }), InvalidInputError);
        await assert.rejects(store.listSessions({ cursor: 'garbage!' }), InvalidInputError);
      });
    });

    describe('messages', () => {
      it('appends with ids, seqs and times; reads windows by seq and limit', async () => {
        await store.createSession({ id: 'm-basic' });
        const ms = await addN('m-basic', 6);
        for (let i = 1; i < ms.length; i++) {
          assert.equal(ms[i]!.seq, ms[i - 1]!.seq + 1);
          assert.ok(ms[i - 1]!.id < ms[i]!.id);
        }
        assert.deepEqual((await store.getMessages('m-basic', { limit: 2 })).map((m) => m.content), ['m4', 'm5']);
        assert.deepEqual((await store.getMessages('m-basic', { afterSeq: ms[3]!.seq })).map((m) => m.content), ['m4', 'm5']);
        assert.deepEqual((await store.getMessages('m-basic', { beforeSeq: ms[2]!.seq })).map((m) => m.content), ['m0', 'm1']);
        assert.deepEqual(
          (await store.getMessages('m-basic', { afterSeq: ms[0]!.seq, beforeSeq: ms[5]!.seq, limit: 2 })).map((m) => m.content),
          ['m3', 'm4'],
        );
        assert.equal((await store.getSessionInfo('m-basic')).messageCount, 6);
      });

      it('stores tool calls, tool results, names and metadata, and renders LLM history', async () => {
        await store.createSession({ id: 'm-tools' });
        const toolCalls = [{ id: 'call_1', type: 'function', function: { name: 'search', arguments: '{"q":"x"}' } }];
        await store.addMessage('m-tools', { role: 'system', content: 'be brief' });
        await store.addMessage('m-tools', { role: 'user', content: 'find x', metadata: { lang: 'en' } });
        await store.addMessage('m-tools', { role: 'assistant', content: null, toolCalls });
        await store.addMessage('m-tools', { role: 'tool', content: 'result', toolCallId: 'call_1', name: 'search' });
        await store.addMessage('m-tools', { role: 'assistant', content: [{ type: 'text', text: 'done' }] });
        const history = await store.getChatHistory('m-tools');
        assert.deepEqual(history, [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'find x' },
          { role: 'assistant', content: null, tool_calls: toolCalls },
          { role: 'tool', content: 'result', tool_call_id: 'call_1', name: 'search' },
          { role: 'assistant', content: [{ type: 'text', text: 'done' }] },
        ]);
        const stored = await store.getMessages('m-tools');
        assert.deepEqual(stored[1]!.metadata, { lang: 'en' });
        // A window never opens on a tool result whose call it cut off.
        const w = await store.getChatHistory('m-tools', { maxMessages: 2 });
        assert.deepEqual(w.map((m) => m.role), ['assistant']);
        assert.equal((await store.getChatHistory('m-tools', { maxMessages: 3 }))[0]!.role, 'assistant');
      });

      it('keeps every message: no silent truncation', async () => {
        await store.createSession({ id: 'm-many' });
        const batch = Array.from({ length: 450 }, (_, i) => ({ role: 'user' as const, content: `n${i}` }));
        await store.addMessages('m-many', batch);
        const all = await store.getMessages('m-many');
        assert.equal(all.length, 450);
        assert.equal(all[0]!.content, 'n0');
        assert.equal((await store.getChatHistory('m-many')).length, 450);
        assert.equal((await store.getChatHistory('m-many', { maxMessages: 100 })).length, 100);
      });

      it('is idempotent on caller ids; a different payload under a used id is refused', async () => {
        await store.createSession({ id: 'm-idem' });
        const first = await store.addMessage('m-idem', { id: 'turn-1', role: 'user', content: 'hello', metadata: { a: 1, b: 2 } });
        const again = await store.addMessage('m-idem', { id: 'turn-1', role: 'user', content: 'hello', metadata: { b: 2, a: 1 } });
        assert.deepEqual(again, first);
        await assert.rejects(store.addMessage('m-idem', { id: 'turn-1', role: 'user', content: 'changed' }), InvalidInputError);
        // A retry carrying the stale expectedSeq of the first attempt still succeeds (the write landed).
        const retry = await store.addMessage('m-idem', { id: 'turn-1', role: 'user', content: 'hello', metadata: { a: 1, b: 2 } }, { expectedSeq: 1 });
        assert.equal(retry.id, 'turn-1');
        assert.equal((await store.getMessages('m-idem')).length, 1);
      });

      it('appends batches atomically', async () => {
        await store.createSession({ id: 'm-batch' });
        await store.addMessage('m-batch', { id: 'taken', role: 'user', content: 'a' });
        const head = (await store.getSessionInfo('m-batch')).headSeq;
        await assert.rejects(
          store.addMessages('m-batch', [
            { role: 'user', content: 'ok' },
            { id: 'taken', role: 'user', content: 'different' },
          ]),
          InvalidInputError,
        );
        await assert.rejects(store.addMessages('m-batch', [{ role: 'user', content: 'ok' }, { role: 'bogus' as 'user', content: 'x' }]), InvalidInputError);
        assert.equal((await store.getSessionInfo('m-batch')).headSeq, head, 'nothing of a refused batch was written');
        const ms = await store.addMessages('m-batch', [
          { role: 'user', content: 'b1' },
          { id: 'taken', role: 'user', content: 'a' },
          { role: 'assistant', content: 'b2' },
        ]);
        assert.deepEqual(ms.map((m) => m.content), ['b1', 'a', 'b2']);
        assert.deepEqual(await contents('m-batch'), ['a', 'b1', 'b2']);
      });

      it('rejects bad messages with a typed error naming the field, writing nothing', async () => {
        await store.createSession({ id: 'm-bad' });
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        const bad: Array<[unknown, RegExp]> = [
          [{ role: 'wizard', content: 'x' }, /message\.role/],
          [{ role: 'user', content: 42 }, /message\.content/],
          [{ role: 'user' }, /message\.content/],
          [{ role: 'user', content: 'x', extra: 1 }, /message/],
          [{ role: 'user', content: 'x', metadata: cyclic }, /cycle/],
          [{ role: 'user', content: 'x', metadata: { n: 10n } }, /message\.metadata\.n/],
          [{ role: 'user', content: 'x', metadata: { f: () => 1 } }, /message\.metadata\.f/],
          [{ role: 'user', content: 'x', metadata: { d: new Date() } }, /message\.metadata\.d/],
          [{ role: 'user', content: 'x', metadata: { n: Number.NaN } }, /message\.metadata\.n/],
          [{ role: 'user', content: 'x', id: 'a/b' }, /message\.id/],
          [{ role: 'assistant', content: null, toolCalls: [{ id: 1 }] }, /message\.toolCalls/],
          [null, /message/],
          ['hello', /message/],
        ];
        for (const [input, field] of bad) {
          await assert.rejects(
            store.addMessage('m-bad', input as never),
            (err: unknown) => err instanceof InvalidInputError && field.test(err.message),
            String(field),
          );
        }
        assert.equal((await store.getSessionInfo('m-bad')).headSeq, 1);
      });

      it('stores __proto__ keys as data without polluting prototypes', async () => {
        await store.createSession({ id: 'm-proto' });
        const metadata = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}');
        await store.addMessage('m-proto', { role: 'user', content: 'x', metadata });
        await store.updateMetadata('m-proto', JSON.parse('{"__proto__": {"polluted": true}}'));
        const [m] = await store.getMessages('m-proto');
        assert.equal(({} as Record<string, unknown>).polluted, undefined);
        assert.ok(Object.prototype.hasOwnProperty.call(m!.metadata, '__proto__'));
        const info = await store.getSessionInfo('m-proto');
        assert.ok(Object.prototype.hasOwnProperty.call(info.metadata, '__proto__'));
        assert.equal((info.metadata as Record<string, unknown>).polluted, undefined);
        // …and through an export/import round trip.
        await store.importSession(JSON.parse(JSON.stringify(await store.exportSession('m-proto'))), { id: 'm-proto-2' });
        const [copy] = await store.getMessages('m-proto-2');
        assert.ok(Object.prototype.hasOwnProperty.call(copy!.metadata, '__proto__'));
        assert.equal(Object.getPrototypeOf(copy!.metadata), Object.prototype);
        assert.deepEqual(copy, m);
      });

      it('hands out messages that callers cannot mutate in the store', async () => {
        await store.createSession({ id: 'm-frozen' });
        const input = { role: 'user' as const, content: 'orig', metadata: { k: 'v' } };
        await store.addMessage('m-frozen', input);
        input.metadata.k = 'changed';
        const [m] = await store.getMessages('m-frozen');
        assert.equal(m!.metadata!.k, 'v');
        assert.throws(() => {
          (m as { content: string }).content = 'hacked';
        });
        assert.equal((await store.getMessages('m-frozen'))[0]!.content, 'orig');
      });
    });

    describe('optimistic concurrency', () => {
      it('applies a write only at the expected head, else StaleSessionError with both seqs', async () => {
        await store.createSession({ id: 'occ' });
        const head = (await store.getSessionInfo('occ')).headSeq;
        await store.addMessage('occ', { role: 'user', content: 'a' }, { expectedSeq: head });
        const err = await store.setTitle('occ', 'late', { expectedSeq: head }).catch((e: unknown) => e);
        assert.ok(err instanceof StaleSessionError);
        assert.equal(err.expectedSeq, head);
        assert.equal(err.actualSeq, head + 1);
        assert.equal((await store.getSession('occ')).title, null);
        for (const op of [
          () => store.addMessage('occ', { role: 'user', content: 'x' }, { expectedSeq: head }),
          () => store.createSnapshot('occ', {}, { expectedSeq: head }),
          () => store.shareSession('occ', { expectedSeq: head }),
          () => store.updateMetadata('occ', { a: 1 }, { expectedSeq: head }),
          () => store.clearSession('occ', { expectedSeq: head }),
          () => store.revertToMessage('occ', 0, { expectedSeq: head }),
          () => store.deleteSession('occ', { expectedSeq: head }),
        ]) {
          await assert.rejects(op(), StaleSessionError);
        }
        assert.equal((await store.getSessionInfo('occ')).headSeq, head + 1);
        await assert.rejects(store.setTitle('occ', 'x', { expectedSeq: -1 }), InvalidInputError);
      });

      it('a stale handle never erases another handle\'s writes (the reference store\'s bug)', async () => {
        const other = opened.reopen();
        try {
          await store.createSession({ id: 'stale-handle', title: 'before' });
          await store.addMessage('stale-handle', { role: 'user', content: 'one' });
          await store.getSession('stale-handle'); // warm the cache
          await other.addMessage('stale-handle', { role: 'user', content: 'two' });
          await other.addMessage('stale-handle', { role: 'assistant', content: 'three' });
          await store.setTitle('stale-handle', 'after');
          await store.shareSession('stale-handle');
          await store.createSnapshot('stale-handle');
          await store.updateMetadata('stale-handle', { k: 1 });
          const s = await store.getSession('stale-handle');
          assert.deepEqual(s.messages.map((m) => m.content), ['one', 'two', 'three']);
          assert.equal(s.snapshots[0]!.messageCount, 3);
          const viaOther = await other.getSession('stale-handle');
          assert.equal(viaOther.title, 'after');
          assert.deepEqual(viaOther.messages.map((m) => m.content), ['one', 'two', 'three']);
        } finally {
          await other.close();
        }
      });

      it('a warm handle never continues its cached fold into a new log with the same id (deleted and recreated elsewhere)', async () => {
        const other = opened.reopen();
        try {
          await store.createSession({ id: 'reborn', title: 'first life' });
          await store.addMessages('reborn', ['a1', 'a2'].map((c) => ({ role: 'user' as const, content: c })));
          await store.getSession('reborn'); // warm: headSeq 3, its body cache holds a1 and a2
          await other.deleteSession('reborn');
          await other.createSession({ id: 'reborn', title: 'second life' });
          // The new log grows past the old head, so seqs alone would "continue" the old fold.
          for (const c of ['b1', 'b2', 'b3']) await other.addMessage('reborn', { role: 'user', content: c });
          const seen = await store.getSession('reborn');
          assert.equal(seen.title, 'second life');
          assert.deepEqual(seen.messages.map((m) => m.content), ['b1', 'b2', 'b3']);
          assert.deepEqual((await store.getMessages('reborn', { limit: 2 })).map((m) => m.content), ['b2', 'b3']);
          // And the write path, from a handle whose fold is of the first life.
          const writer = opened.reopen();
          try {
            await writer.createSession({ id: 'reborn-w' });
            await writer.addMessage('reborn-w', { role: 'user', content: 'old' });
            await writer.getSession('reborn-w');
            await other.deleteSession('reborn-w');
            await other.createSession({ id: 'reborn-w' });
            await other.addMessage('reborn-w', { role: 'user', content: 'new1' });
            await other.addMessage('reborn-w', { role: 'user', content: 'new2' });
            await writer.addMessage('reborn-w', { role: 'user', content: 'mine' });
            const expected = ['new1', 'new2', 'mine'];
            assert.deepEqual((await writer.getSession('reborn-w')).messages.map((m) => m.content), expected);
            assert.deepEqual((await opened.reopen().getSession('reborn-w')).messages.map((m) => m.content), expected);
          } finally {
            await writer.close();
          }
        } finally {
          await other.close();
        }
      });

      it('concurrent appends from one process keep every message', async () => {
        await store.createSession({ id: 'occ-par' });
        await Promise.all(Array.from({ length: 40 }, (_, i) => store.addMessage('occ-par', { id: `p-${i}`, role: 'user', content: `${i}` })));
        const ms = await store.getMessages('occ-par');
        assert.equal(ms.length, 40);
        assert.equal(new Set(ms.map((m) => m.id)).size, 40);
      });
    });

    describe('fork', () => {
      it('forks by reference at a message id or index, with a default title', async () => {
        await store.createSession({ id: 'f-parent', title: 'Parent', agentName: 'ag' });
        const ms = await addN('f-parent', 5);
        const byId = await store.forkSession('f-parent', { atMessageId: ms[2]!.id, id: 'f-child' });
        assert.equal(byId.title, 'Fork of Parent');
        assert.equal(byId.parentId, 'f-parent');
        assert.deepEqual(byId.forkedFrom, { messageId: ms[2]!.id, seq: ms[2]!.seq });
        assert.equal(byId.agentName, 'ag');
        assert.equal(byId.messageCount, 3);
        assert.deepEqual(await contents('f-child'), ['m0', 'm1', 'm2']);
        const byIndex = await store.forkSession('f-parent', { atIndex: 0, title: 'Mine' });
        assert.equal(byIndex.title, 'Mine');
        assert.deepEqual(await contents(byIndex.id), ['m0']);
        const whole = await store.forkSession('f-parent');
        assert.deepEqual(await contents(whole.id), ['m0', 'm1', 'm2', 'm3', 'm4']);
        // The fork continues on its own; the parent is untouched and vice versa.
        const c = await store.addMessage('f-child', { role: 'user', content: 'child only' });
        assert.ok(c.seq > ms[2]!.seq, 'seqs keep increasing along the fork\'s history');
        await store.addMessage('f-parent', { role: 'user', content: 'parent only' });
        assert.deepEqual(await contents('f-child'), ['m0', 'm1', 'm2', 'child only']);
        assert.equal((await contents('f-parent')).length, 6);
        // A fresh handle folds the fork from the parent's log.
        const other = opened.reopen();
        try {
          assert.deepEqual((await other.getMessages('f-child')).map((m) => m.content), ['m0', 'm1', 'm2', 'child only']);
        } finally {
          await other.close();
        }
        if (opened.rawEvents) {
          const raw = await opened.rawEvents('f-child');
          assert.ok(raw && !raw.some((e) => e.type === 'message.added' && e.message.content === 'm0'), 'a fork copies no message payloads');
        }
        await assert.rejects(store.forkSession('f-parent', { atIndex: 99 }), MessageNotFoundError);
        await assert.rejects(store.forkSession('f-parent', { atMessageId: 'nope' }), MessageNotFoundError);
        await assert.rejects(store.forkSession('f-parent', { atIndex: -1 }), MessageNotFoundError);
        await assert.rejects(store.forkSession('f-parent', { id: 'f-child' }), SessionExistsError);
        await assert.rejects(store.forkSession('f-parent', { atIndex: 1.5 }), InvalidInputError);
      });

      it('forks of forks, children, parent and a cycle-safe tree', async () => {
        await store.createSession({ id: 't-root', title: 'root' });
        await addN('t-root', 3);
        await store.forkSession('t-root', { id: 't-a', atIndex: 1 });
        await store.addMessage('t-a', { role: 'user', content: 'a-own' });
        await store.forkSession('t-a', { id: 't-a1' });
        await store.createSession({ id: 't-b', parentId: 't-root' });
        assert.deepEqual(await contents('t-a1'), ['m0', 'm1', 'a-own']);
        assert.deepEqual((await store.getChildren('t-root')).map((s) => s.id).sort(), ['t-a', 't-b']);
        assert.equal((await store.getParent('t-a1'))!.id, 't-a');
        assert.equal(await store.getParent('t-root'), null);
        const tree = await store.getSessionTree('t-root');
        assert.equal(tree.id, 't-root');
        const a = tree.children.find((c) => c.id === 't-a')!;
        assert.equal(a.messageCount, 3);
        assert.deepEqual(a.children.map((c) => c.id), ['t-a1']);
      });

      it('a fork of a fork at an inherited message reads from a fresh handle, also after the grandparent is gone', async () => {
        await store.createSession({ id: 'ff-g' });
        const gs = await addN('ff-g', 4, 'g');
        await store.forkSession('ff-g', { id: 'ff-p' });
        await store.addMessage('ff-p', { role: 'user', content: 'p-own' });
        await store.forkSession('ff-p', { id: 'ff-c', atMessageId: gs[1]!.id });
        await store.addMessage('ff-c', { role: 'user', content: 'c-own' });
        const fresh = async () => {
          const other = opened.reopen();
          try {
            return (await other.getMessages('ff-c')).map((m) => m.content);
          } finally {
            await other.close();
          }
        };
        assert.deepEqual(await fresh(), ['g0', 'g1', 'c-own']);
        await store.deleteSession('ff-g');
        assert.deepEqual(await fresh(), ['g0', 'g1', 'c-own']);
        await store.deleteSession('ff-p');
        assert.deepEqual(await fresh(), ['g0', 'g1', 'c-own']);
      });

      it('deleting a parent never loses a child\'s history', async () => {
        await store.createSession({ id: 'd-g', title: 'grand' });
        await addN('d-g', 4, 'g');
        await store.forkSession('d-g', { id: 'd-p', atIndex: 2 });
        await store.addMessage('d-p', { role: 'user', content: 'p-own' });
        await store.forkSession('d-p', { id: 'd-c' });
        await store.addMessage('d-c', { role: 'user', content: 'c-own' });
        await store.createSession({ id: 'd-plain', parentId: 'd-g' });
        await store.deleteSession('d-g');
        assert.equal(await store.sessionExists('d-g'), false);
        assert.deepEqual(await contents('d-p'), ['g0', 'g1', 'g2', 'p-own']);
        assert.deepEqual(await contents('d-c'), ['g0', 'g1', 'g2', 'p-own', 'c-own']);
        assert.equal((await store.getSessionInfo('d-p')).parentId, null);
        assert.equal((await store.getSessionInfo('d-plain')).parentId, null);
        // Again, from a fresh handle with no cache, and after deleting the middle generation too.
        await store.deleteSession('d-p');
        const other = opened.reopen();
        try {
          assert.deepEqual((await other.getMessages('d-c')).map((m) => m.content), ['g0', 'g1', 'g2', 'p-own', 'c-own']);
        } finally {
          await other.close();
        }
        // The id is free again.
        await store.createSession({ id: 'd-g' });
        assert.equal((await store.getSessionInfo('d-g')).messageCount, 0);
      });

      it('finishes a deletion interrupted after its fence (a crash mid-delete)', async () => {
        await store.createSession({ id: 'half-p', title: 'p' });
        await addN('half-p', 2, 'p');
        await store.forkSession('half-p', { id: 'half-c' });
        // Write only the fence, as a deleter killed right after it would have.
        const head = await store.driver.head('half-p');
        const summary = { ...(await store.driver.list({ limit: 1000, after: null })).sessions.find((x) => x.id === 'half-p')! };
        await store.driver.append('half-p', 'update', async (tx) => ({
          events: [{ type: 'session.deleted', seq: tx.headSeq + 1, at: new Date().toISOString() }],
          summary: { ...summary, headSeq: head! + 1, deleted: true },
        }));
        assert.equal(await store.sessionExists('half-p'), false);
        assert.ok(!(await store.listSessions({ limit: 1000 })).sessions.some((x) => x.id === 'half-p'));
        assert.deepEqual(await contents('half-c'), ['p0', 'p1'], 'the child still reads its prefix');
        assert.equal(await store.finishPendingDeletion('half-p'), true);
        assert.equal(await store.driver.head('half-p'), null);
        assert.deepEqual(await contents('half-c'), ['p0', 'p1']);
        assert.equal((await store.getSessionInfo('half-c')).parentId, null);
        await store.createSession({ id: 'half-p' });
      });

      it('cascade deletes the whole subtree', async () => {
        await store.createSession({ id: 'cas-root' });
        await store.forkSession('cas-root', { id: 'cas-a' });
        await store.forkSession('cas-a', { id: 'cas-a1' });
        await store.createSession({ id: 'cas-b', parentId: 'cas-root' });
        await store.deleteSession('cas-root', { cascade: true });
        for (const id of ['cas-root', 'cas-a', 'cas-a1', 'cas-b']) assert.equal(await store.sessionExists(id), false, id);
        for (const id of ['cas-root', 'cas-a', 'cas-a1', 'cas-b']) assert.equal(await store.driver.head(id), null, id);
      });
    });

    describe('snapshots and revert', () => {
      it('reverts to a message softly; unrevert restores; a new message commits', async () => {
        await store.createSession({ id: 'r-msg' });
        const ms = await addN('r-msg', 5);
        const info = await store.revertToMessage('r-msg', ms[1]!.id);
        assert.equal(info.messageCount, 2);
        let s = await store.getSession('r-msg');
        assert.deepEqual(s.revert && { to: s.revert.toMessageId, hidden: s.revert.hiddenCount }, { to: ms[1]!.id, hidden: 3 });
        assert.equal((await store.getMessages('r-msg', { includeReverted: true })).length, 5);
        await store.unrevert('r-msg');
        assert.deepEqual(await contents('r-msg'), ['m0', 'm1', 'm2', 'm3', 'm4']);
        assert.equal((await store.getSession('r-msg')).revert, null);
        await store.unrevert('r-msg'); // nothing to undo: no-op
        await store.revertToMessage('r-msg', 2);
        await store.revertToMessage('r-msg', ms[3]!.id); // move the revert point forward while pending
        assert.deepEqual(await contents('r-msg'), ['m0', 'm1', 'm2', 'm3']);
        await store.addMessage('r-msg', { role: 'user', content: 'new' });
        s = await store.getSession('r-msg');
        assert.equal(s.revert, null);
        assert.deepEqual(s.messages.map((m) => m.content), ['m0', 'm1', 'm2', 'm3', 'new']);
        await store.unrevert('r-msg');
        assert.deepEqual(await contents('r-msg'), ['m0', 'm1', 'm2', 'm3', 'new'], 'a committed revert stays');
        assert.equal((await store.getMessages('r-msg', { includeReverted: true })).length, 6, 'reverted messages stay in the log');
        await assert.rejects(store.revertToMessage('r-msg', 99), MessageNotFoundError);
        await assert.rejects(store.revertToMessage('r-msg', ms[4]!.id), MessageNotFoundError);
        await assert.rejects(store.revertToMessage('r-msg', 'nope'), MessageNotFoundError);
        await assert.rejects(store.revertToMessage('r-msg', {} as unknown as string), InvalidInputError);
      });

      it('restores a snapshot exactly, whatever happened since', async () => {
        await store.createSession({ id: 'r-snap' });
        await addN('r-snap', 3);
        const snap = await store.createSnapshot('r-snap', { label: 'three', metadata: { why: 'test' } });
        assert.equal(snap.messageCount, 3);
        assert.equal(snap.label, 'three');
        await addN('r-snap', 2, 'later');
        await store.revertToMessage('r-snap', 0);
        await store.addMessage('r-snap', { role: 'user', content: 'committed' });
        await store.clearSession('r-snap');
        await store.addMessage('r-snap', { role: 'user', content: 'after clear' });
        await store.revertToSnapshot('r-snap', snap.id);
        assert.deepEqual(await contents('r-snap'), ['m0', 'm1', 'm2']);
        await store.unrevert('r-snap');
        assert.deepEqual(await contents('r-snap'), ['after clear']);
        const snaps = await store.listSnapshots('r-snap');
        assert.deepEqual(snaps.map((s) => s.id), [snap.id]);
        assert.deepEqual(snaps[0]!.metadata, { why: 'test' });
        await assert.rejects(store.revertToSnapshot('r-snap', 'no-such'), SnapshotNotFoundError);
        const empty = await store.createSession({ id: 'r-empty' });
        const s0 = await store.createSnapshot(empty.id);
        await store.addMessage(empty.id, { role: 'user', content: 'x' });
        await store.revertToSnapshot(empty.id, s0.id);
        assert.deepEqual(await contents(empty.id), []);
      });

      it('snapshot and revert in a fork cover its inherited prefix', async () => {
        await store.createSession({ id: 'rf-p' });
        const ms = await addN('rf-p', 3);
        await store.forkSession('rf-p', { id: 'rf-c' });
        await store.addMessage('rf-c', { role: 'user', content: 'own' });
        await store.revertToMessage('rf-c', ms[0]!.id);
        assert.deepEqual(await contents('rf-c'), ['m0']);
        await store.unrevert('rf-c');
        assert.deepEqual(await contents('rf-c'), ['m0', 'm1', 'm2', 'own']);
      });

      it('compaction checkpoints shape the LLM history but keep every message', async () => {
        await store.createSession({ id: 'cp' });
        const ms = await addN('cp', 4);
        await store.addCompactionCheckpoint('cp', { summary: 'earlier: m0 and m1', throughMessageId: ms[1]!.id });
        const history = await store.getChatHistory('cp');
        assert.deepEqual(history, [
          { role: 'system', content: 'earlier: m0 and m1' },
          { role: 'user', content: 'm2' },
          { role: 'assistant', content: 'm3' },
        ]);
        assert.equal((await store.getMessages('cp')).length, 4);
        await assert.rejects(store.addCompactionCheckpoint('cp', { summary: '' , throughIndex: 0}), InvalidInputError);
        await assert.rejects(store.addCompactionCheckpoint('cp', { summary: 'x', throughIndex: 9 }), MessageNotFoundError);
      });
    });

    describe('sharing', () => {
      it('shares with an unguessable token, revokes at once, never lists the token', async () => {
        await store.createSession({ id: 'sh' });
        await store.addMessage('sh', { role: 'user', content: 'hi' });
        const { token } = await store.shareSession('sh');
        assert.ok(Buffer.from(token, 'base64url').length >= 16, 'at least 128 bits');
        assert.equal((await store.shareSession('sh')).token, token, 'sharing twice keeps the link');
        assert.equal(await store.isShared('sh'), true);
        const view = await store.getSharedSession(token);
        assert.equal(view.id, 'sh');
        assert.ok(Object.isFrozen(view));
        assert.equal((await store.getSessionInfo('sh')).shared, true);
        const listed = JSON.stringify(await store.listSessions({ limit: 1000 }));
        assert.ok(!listed.includes(token));
        assert.ok(!JSON.stringify(await store.getSession('sh')).includes(token));
        await store.unshareSession('sh');
        assert.equal(await store.isShared('sh'), false);
        const err = await store.getSharedSession(token).catch((e: unknown) => e);
        assert.ok(err instanceof SessionNotFoundError);
        assert.ok(!String((err as Error).message).includes(token), 'errors never carry the token');
        await assert.rejects(store.getSharedSession('x'.repeat(43)), SessionNotFoundError);
        const second = await store.shareSession('sh');
        assert.notEqual(second.token, token, 'a re-share issues a new token');
        await assert.rejects(store.getSharedSession(token), SessionNotFoundError);
      });
    });

    describe('export and import', () => {
      it('round-trips everything losslessly', async () => {
        await store.createSession({ id: 'x-src', title: 'Source', agentName: 'a', userId: 'u', metadata: { k: [1, { z: null }] } });
        const toolCalls = [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }];
        await store.addMessage('x-src', { role: 'user', content: 'q', name: 'bob', metadata: { m: 1 } });
        await store.addMessage('x-src', { role: 'assistant', content: null, toolCalls });
        await store.addMessage('x-src', { role: 'tool', content: 'r', toolCallId: 'c1' });
        await store.createSnapshot('x-src', { label: 'snap' });
        await store.addMessage('x-src', { role: 'assistant', content: 'answer' });
        await store.shareSession('x-src');
        await store.revertToMessage('x-src', 1);
        const doc = await store.exportSession('x-src');
        assert.equal(doc.format, 'threadloom.session');
        assert.equal(doc.version, 1);
        const json = JSON.parse(JSON.stringify(doc));
        const imported = await store.importSession(json, { id: 'x-dst' });
        assert.equal(imported.id, 'x-dst');
        assert.equal(imported.shared, false, 'share state is not imported');
        const a = await store.getSession('x-src');
        const b = await store.getSession('x-dst');
        const strip = (s: typeof a) => ({ ...s, id: null, shared: null, headSeq: null, updatedAt: null });
        assert.deepEqual(strip(b), strip(a));
        assert.deepEqual(
          await store.getMessages('x-dst', { includeReverted: true }),
          await store.getMessages('x-src', { includeReverted: true }),
        );
        assert.ok(!JSON.stringify(doc).includes((await store.shareSession('x-src')).token));
        await assert.rejects(store.importSession(json, { id: 'x-dst' }), SessionExistsError);
        await assert.rejects(store.importSession(json), SessionExistsError, 'the original id exists');
        await store.unrevert('x-dst');
        assert.equal((await store.getMessages('x-dst')).length, 4, 'the revert state round-trips: unrevert works');
      });

      it('exports a fork as a self-contained document', async () => {
        await store.createSession({ id: 'xf-p' });
        await addN('xf-p', 3);
        await store.forkSession('xf-p', { id: 'xf-c', atIndex: 1 });
        await store.addMessage('xf-c', { role: 'user', content: 'own' });
        const doc = JSON.parse(JSON.stringify(await store.exportSession('xf-c')));
        await store.deleteSession('xf-p', { cascade: true });
        const imported = await store.importSession(doc);
        assert.equal(imported.id, 'xf-c');
        assert.equal(imported.parentId, null, 'the missing parent is not linked');
        assert.deepEqual(await contents('xf-c'), ['m0', 'm1', 'own']);
      });

      it('imports a reference-store session file', async () => {
        const ref = {
          session_id: 'ref-import',
          title: 'Old chat',
          agent_name: 'legacy',
          user_id: 'u9',
          created_at: '2024-01-02T03:04:05+00:00',
          updated_at: '2024-01-02T03:05:00+00:00',
          metadata: { model: 'gpt' },
          messages: [
            { role: 'user', content: 'hi', timestamp: 1704164645.5, metadata: {} },
            { role: 'assistant', content: '', timestamp: 1704164646, metadata: {}, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
            { role: 'tool', content: 'out', timestamp: 1704164647, metadata: {}, tool_call_id: 't1' },
            { role: 'assistant', content: 'bye', timestamp: 1704164648, metadata: {} },
          ],
          snapshots: [{ id: 'snap-1', session_id: 'ref-import', message_index: 1, created_at: 1704164646.5, label: 'two', metadata: {} }],
          is_shared: true,
          parent_id: null,
          children_ids: [],
        };
        const info = await store.importSession(ref);
        assert.equal(info.id, 'ref-import');
        assert.equal(info.title, 'Old chat');
        assert.equal(info.agentName, 'legacy');
        assert.equal(info.shared, false);
        const ms = await store.getMessages('ref-import');
        assert.deepEqual(ms.map((m) => m.role), ['user', 'assistant', 'tool', 'assistant']);
        assert.equal(ms[0]!.createdAt, new Date(1704164645500).toISOString());
        assert.equal(ms[1]!.toolCalls![0]!.id, 't1');
        assert.equal(ms[2]!.toolCallId, 't1');
        const [snap] = await store.listSnapshots('ref-import');
        assert.equal(snap!.label, 'two');
        assert.equal(snap!.messageCount, 2);
        await store.revertToSnapshot('ref-import', snap!.id);
        assert.equal((await store.getMessages('ref-import')).length, 2);
        await assert.rejects(store.importSession(ref), SessionExistsError);
        await assert.rejects(store.importSession({ ...ref, session_id: 'bad/id' }), InvalidInputError);
        await store.importSession({ ...ref, session_id: 'bad/id' }, { id: 'renamed-ok' });
      });

      it('rejects malformed documents naming the field, writing nothing', async () => {
        await assert.rejects(store.importSession({ format: 'threadloom.session', version: 99, prefix: [], events: [] }), /version/);
        await assert.rejects(store.importSession({ format: 'threadloom.session', version: 1, prefix: [], events: [{ seq: 1 }] }), InvalidInputError);
        await assert.rejects(store.importSession({ nothing: true }), InvalidInputError);
        await assert.rejects(store.importSession(null), InvalidInputError);
        await assert.rejects(store.importSession({ session_id: 'ok-id', messages: [{ role: 'alien', content: 'x' }] }), /doc\.messages\[0\]\.role/);
        assert.equal(await store.sessionExists('ok-id'), false);
      });
    });

    describe('change notifications', () => {
      it('watch() delivers other writers\' events in order, or is refused when the driver lacks the capability', async () => {
        await store.createSession({ id: 'watched' });
        if (!store.driver.capabilities.watch) {
          await assert.rejects(store.watch('watched').next(), InvalidInputError);
          return;
        }
        const controller = new AbortController();
        const seen: string[] = [];
        const watching = (async () => {
          for await (const e of store.watch('watched', { signal: controller.signal })) {
            if (e.type === 'message.added') seen.push(e.message.id);
            if (seen.length === 3) controller.abort();
          }
        })();
        await new Promise((r) => setTimeout(r, 50));
        await runConcurrently([{ kind: 'append', sessionId: 'watched', writer: 'wx', count: 3 }]);
        const timeout = setTimeout(() => controller.abort(), 10_000);
        await watching;
        clearTimeout(timeout);
        assert.deepEqual(seen, ['wx-0', 'wx-1', 'wx-2']);
      });
    });

    describe('long sessions: bodies are read per page, never all held', () => {
      /** A store on the same driver that keeps no message bodies: every body it returns was read from the log. */
      const bodiless = () => openStore({ driver: store.driver, cacheMessages: 0 });

      it('readEvents takes a range and a limit; a plan reads a range of its own log under the lock', async () => {
        await store.createSession({ id: 'lg-range' });
        await store.addMessages('lg-range', Array.from({ length: 300 }, (_, i) => ({ role: 'user' as const, content: `r${i}` })));
        const seqs = async (after: number, until?: number, limit?: number) =>
          (await store.driver.readEvents('lg-range', after, until, limit))!.map((e) => e.seq);
        assert.deepEqual(await seqs(100, 105), [101, 102, 103, 104, 105]);
        assert.deepEqual(await seqs(100, undefined, 3), [101, 102, 103]);
        assert.deepEqual(await seqs(250, 260, 4), [251, 252, 253, 254]);
        assert.deepEqual(await seqs(299, undefined, 50), [300, 301]);
        assert.deepEqual(await seqs(0, 2, 10), [1, 2]);
        let inside: number[] = [];
        await store.driver.append('lg-range', 'update', async (tx) => {
          inside = (await tx.readAfter(200, 203)).map((e) => e.seq);
          return null;
        });
        assert.deepEqual(inside, [201, 202, 203]);
      });

      it('a store that caches no bodies serves every page, windows, retries and forks exactly as a caching one', async () => {
        await store.createSession({ id: 'lg-pages' });
        const sent = Array.from({ length: 700 }, (_, i) => ({ id: `lp-${i}`, role: (i % 3 === 2 ? 'tool' : 'user') as 'tool' | 'user', content: `page ${i}` }));
        for (let i = 0; i < sent.length; i += 100) await store.addMessages('lg-pages', sent.slice(i, i + 100));
        await store.setTitle('lg-pages', 'between messages');
        await store.addMessage('lg-pages', { id: 'lp-last', role: 'assistant', content: 'last' });
        const all = await store.getMessages('lg-pages');
        const lean = bodiless();
        // Page backward through the whole history, 50 at a time.
        const pages: string[] = [];
        let beforeSeq: number | undefined;
        for (;;) {
          const page = await lean.getMessages('lg-pages', beforeSeq === undefined ? { limit: 50 } : { limit: 50, beforeSeq });
          if (page.length === 0) break;
          pages.unshift(...page.map((m) => m.id));
          beforeSeq = page[0]!.seq;
        }
        assert.deepEqual(pages, all.map((m) => m.id));
        assert.deepEqual(await lean.getMessages('lg-pages', { afterSeq: all[300]!.seq, limit: 5 }), all.slice(-5));
        assert.deepEqual(await lean.getChatHistory('lg-pages', { maxMessages: 7 }), await store.getChatHistory('lg-pages', { maxMessages: 7 }));
        assert.deepEqual((await lean.getSession('lg-pages')).messages, all);
        // An idempotent retry of an old message: its body comes from the log, under the lock.
        assert.deepEqual(await lean.addMessage('lg-pages', sent[3]!), all[3]);
        await assert.rejects(lean.addMessage('lg-pages', { ...sent[3]!, content: 'changed' }), InvalidInputError);
        // Concurrent retries and duplicates batched into one append: a later call sees an earlier call's
        // message before it is written.
        const results = await Promise.all([
          lean.addMessage('lg-pages', { id: 'lp-new', role: 'user', content: 'new' }),
          lean.addMessage('lg-pages', { id: 'lp-new', role: 'user', content: 'new' }),
          lean.addMessage('lg-pages', sent[10]!),
        ]);
        assert.deepEqual(results[0], results[1]);
        assert.deepEqual(results[2], all[10]);
        // A fork deep in the history reads its inherited messages from the parent's log.
        const fork = await lean.forkSession('lg-pages', { atIndex: 400, id: 'lg-pages-fork' });
        assert.equal(fork.messageCount, 401);
        assert.deepEqual(await lean.getMessages('lg-pages-fork', { limit: 3 }), all.slice(398, 401));
        assert.deepEqual(await opened.reopen().getMessages('lg-pages-fork', { beforeSeq: all[11]!.seq, limit: 2 }), all.slice(9, 11));
        assert.deepEqual(await lean.addMessage('lg-pages-fork', sent[5]!), all[5]);
      });
    });

    describe('concurrent writers (separate OS processes when the backend is shared)', () => {
      it('8 processes x 200 mixed writes to one session: nothing lost, seq gap-free, per-writer order kept', async () => {
        await store.createSession({ id: 'mp-one' });
        const writers = Array.from({ length: 8 }, (_, w) => ({ kind: 'append', sessionId: 'mp-one', writer: `w${w}`, count: 200, mixed: true }));
        const runs = await runConcurrently(writers as Job[]);
        const acked = runs.flatMap((acks) => acks as Array<{ id: string; seq: number }>);
        assert.equal(acked.length, 1600);
        const reader = opened.reopen();
        try {
          const ms = await reader.getMessages('mp-one');
          assert.equal(ms.length, 1600);
          assert.equal(new Set(ms.map((m) => m.id)).size, 1600);
          for (const a of acked) assert.ok(ms.some((m) => m.id === a.id && m.seq === a.seq), `ack ${a.id} present at its seq`);
          for (let w = 0; w < 8; w++) {
            const mine = ms.filter((m) => m.id.startsWith(`w${w}-`)).map((m) => Number(m.id.split('-')[1]));
            assert.deepEqual(mine, [...mine].sort((a, b) => a - b), `writer ${w} order`);
          }
          const events = opened.rawEvents ? await opened.rawEvents('mp-one') : await reader.driver.readEvents('mp-one', 0);
          assert.ok(events);
          events.forEach((e, i) => assert.equal(e.seq, i + 1, 'gap-free seq'));
          assert.equal((await reader.getSessionInfo('mp-one')).headSeq, events.length);
        } finally {
          await reader.close();
        }
      });

      it('K processes with the same expectedSeq: exactly one wins', async () => {
        await store.createSession({ id: 'mp-occ' });
        const head = (await store.getSessionInfo('mp-occ')).headSeq;
        const runs = await runConcurrently(
          Array.from({ length: 6 }, (_, w) => ({ kind: 'append-expected', sessionId: 'mp-occ', writer: `k${w}`, expectedSeq: head }) as Job),
        );
        const results = runs.map((acks) => acks[0] as { ok: boolean; code?: string });
        assert.equal(results.filter((r) => r.ok).length, 1);
        assert.ok(results.filter((r) => !r.ok).every((r) => r.code === 'STALE_SESSION'));
        assert.equal((await store.getMessages('mp-occ')).length, 1);
      });

      it('creates racing on one id: exactly one succeeds, the others get SessionExistsError', async () => {
        const runs = await runConcurrently(
          Array.from({ length: 6 }, (_, w) => ({ kind: 'create', sessionId: 'mp-create', writer: `c${w}` }) as Job),
        );
        const results = runs.map((acks) => acks[0] as { ok: boolean; code?: string });
        assert.equal(results.filter((r) => r.ok).length, 1);
        assert.ok(results.filter((r) => !r.ok).every((r) => r.code === 'SESSION_EXISTS'));
        assert.equal((await store.getSessionInfo('mp-create')).headSeq, 1);
      });

      it('a warm handle sees another process\'s appends on its next read, and its writes keep them', async () => {
        await store.createSession({ id: 'mp-ref-bug', title: 'x' });
        await store.addMessage('mp-ref-bug', { role: 'user', content: 'mine' });
        await store.getSession('mp-ref-bug');
        await runConcurrently([{ kind: 'append-two', sessionId: 'mp-ref-bug', writer: 'other' }]);
        const expected = ['mine', 'external 1 from other', 'external 2 from other'];
        for (const write of [
          () => store.setTitle('mp-ref-bug', 'renamed'),
          () => store.shareSession('mp-ref-bug'),
          () => store.createSnapshot('mp-ref-bug'),
          () => store.revertToMessage('mp-ref-bug', 2),
          () => store.updateMetadata('mp-ref-bug', { after: true }),
        ]) {
          await write();
          // After every write, an independent handle (no shared cache) still sees all three messages.
          const witness = opened.reopen();
          try {
            assert.deepEqual((await witness.getMessages('mp-ref-bug')).map((m) => m.content), expected);
          } finally {
            await witness.close();
          }
        }
        const s = await store.getSession('mp-ref-bug');
        assert.deepEqual(s.messages.map((m) => m.content), ['mine', 'external 1 from other', 'external 2 from other']);
        assert.equal(s.snapshots[0]!.messageCount, 3);
        assert.equal((await store.getMessages('mp-ref-bug', { includeReverted: true })).length, 3);
      });
    });
  });
}
