import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoredEvent } from '../src/index.js';
import { openStore } from '../src/index.js';
import { testDriver } from './conformance/suite.js';

testDriver({
  name: 'file',
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'threadloom-conf-'));
    const store = openStore({ dir });
    return {
      store,
      recipe: { kind: 'file', dir },
      // Parses the JSON-lines log itself, so a bug shared by the driver's writer and reader cannot hide.
      rawEvents: async (id: string) => {
        let text: string;
        try {
          text = readFileSync(join(dir, 'sessions', `${id}.jsonl`), 'utf8');
        } catch {
          return null;
        }
        return text
          .split('\n')
          .filter((line) => line.length > 0)
          .map((line) => {
            const { more: _more, ...event } = JSON.parse(line) as StoredEvent & { more?: boolean };
            return event as StoredEvent;
          });
      },
      reopen: () => openStore({ dir }),
      cleanup: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
