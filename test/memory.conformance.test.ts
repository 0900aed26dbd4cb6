import { SessionStore } from '../src/index.js';
import { createMemoryDriver } from '../src/drivers/memory.js';
import { testDriver } from './conformance/suite.js';

testDriver({
  name: 'memory',
  async open() {
    const driver = createMemoryDriver();
    return {
      store: new SessionStore(driver),
      recipe: null,
      rawEvents: null,
      reopen: () => new SessionStore(driver),
      cleanup: async () => {},
    };
  },
});
