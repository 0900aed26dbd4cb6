/**
 * What the conformance suite needs from a backend: a way to open a fresh, empty store, and (when the
 * backend is shared between processes) a recipe a child process uses to open the same store.
 */
import type { StoredEvent } from '../../src/core/events.js';
import type { SessionStore } from '../../src/store.js';

/** Serializable: handed to child processes (test/helpers/worker.ts) so they open the same store. */
export type StoreRecipe = { kind: 'file'; dir: string; durability?: 'full' | 'process' } | { kind: 'url'; url: string; schema?: string };

export interface OpenedStore {
  store: SessionStore;
  /** Set when other processes can open the same store. */
  recipe: StoreRecipe | null;
  /** Reads a session's events straight from the backend, bypassing the driver's read path. */
  rawEvents: ((id: string) => Promise<StoredEvent[] | null>) | null;
  /** Opens a second, independent store on the same backend (another handle, as another process would). */
  reopen: () => SessionStore;
  cleanup: () => Promise<void>;
}

export interface DriverHarness {
  name: string;
  open: () => Promise<OpenedStore>;
}
