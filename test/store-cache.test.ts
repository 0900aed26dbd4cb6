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
