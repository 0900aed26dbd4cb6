/** The store's fold cache is bounded, and eviction never changes what readers see. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { InvalidInputError, openStore } from '../src/index.js';
import { createMemoryDriver } from '../src/drivers/memory.js';

it('a store with room for 2 folded sessions serves 6 correctly while another handle writes', async () => {
  const driver = createMemoryDriver();
  const small = openStore({ driver, cacheSessions: 2 });
  const other = openStore({ driver });
  for (let s = 0; s < 6; s++) await small.createSession({ id: `c${s}` });
  for (let round = 0; round < 4; round++) {
    for (let s = 0; s < 6; s++) {
      await small.addMessage(`c${s}`, { role: 'user', content: `${s}-${round}` });
      await other.addMessage(`c${s}`, { role: 'assistant', content: `other ${s}-${round}` });
    }
  }
  for (let s = 0; s < 6; s++) {
    const ms = await small.getMessages(`c${s}`);
    assert.equal(ms.length, 8);
    assert.deepEqual(ms, await other.getMessages(`c${s}`));
  }
  assert.throws(() => openStore({ driver, cacheSessions: 0 }), InvalidInputError);
});

it("a fork shares its parent's messages until it is read or extended: nothing the parent does later reaches it", async () => {
  const driver = createMemoryDriver();
  const store = openStore({ driver });
  const fresh = () => openStore({ driver }); // a handle with no cache: folds from the logs alone
  await store.createSession({ id: 'p' });
  const originals = await store.addMessages('p', Array.from({ length: 20 }, (_, i) => ({ id: `m${i}`, role: 'user' as const, content: `m${i}` })));
  const ids = (ms: Array<{ id: string }>) => ms.map((m) => m.id);

  const a = await store.forkSession('p', { atIndex: 9, id: 'a' });
  assert.equal(a.messageCount, 10);
  // A fork of the untouched fork, then the parent moves on: appends, a revert, a commit, a clear.
  const b = await store.forkSession('a', { atIndex: 4, id: 'b' });
  assert.equal(b.messageCount, 5);
  await store.addMessage('p', { id: 'p-new', role: 'user', content: 'after the fork' });
  await store.revertToMessage('p', 3);
  await store.addMessage('p', { id: 'p-after-revert', role: 'user', content: 'commits the revert' });
  await store.clearSession('p');
  await store.addMessage('p', { id: 'p-after-clear', role: 'user', content: 'x' });
  assert.deepEqual(ids(await store.getMessages('p')), ['p-after-clear']);

  for (const handle of [store, fresh()]) {
    assert.deepEqual(ids(await handle.getMessages('a')), ids(originals.slice(0, 10)));
    assert.deepEqual(ids(await handle.getMessages('b')), ids(originals.slice(0, 5)));
  }
  // The forks extend and revert their own copies; siblings and the parent's history are untouched.
  await store.addMessage('a', { id: 'a-own', role: 'user', content: 'a' });
  await store.revertToMessage('b', 1);
  for (const handle of [store, fresh()]) {
    assert.deepEqual(ids(await handle.getMessages('a')), [...ids(originals.slice(0, 10)), 'a-own']);
    assert.deepEqual(ids(await handle.getMessages('b')), ids(originals.slice(0, 2)));
    assert.deepEqual(ids(await handle.getMessages('b', { includeReverted: true })), ids(originals.slice(0, 5)));
    assert.equal((await handle.getSessionInfo('b')).messageCount, 2);
    assert.deepEqual(
      ids(await handle.getMessages('p', { includeReverted: true })),
      [...ids(originals), 'p-new', 'p-after-revert', 'p-after-clear'],
    );
  }
});
