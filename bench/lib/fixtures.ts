/** Test data and fast fixture builders shared by the workloads. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openStore, type SessionStore } from '../../src/store.js';
import type { MessageInput } from '../../src/core/model.js';

export type Durability = 'full' | 'process';

/** Content size of a benchmark message (the event line on disk is ~190 bytes more: id, seq, at, role…). */
export const MESSAGE_BYTES = 500;
export const SETUP_BATCH = 1000;

const WORDS = (
  'the agent reads the build log then proposes a fix for the failing dependency and asks the user ' +
  'to confirm before running the tests again with the cache cleared because a stale lockfile can ' +
  'hide the real error while the tool output shows a missing module in the resolver path '
).repeat(8);

/** A ~500-byte chat message (plain ASCII, so bytes == characters). */
export function message(i: number, extra?: Partial<MessageInput>, size = MESSAGE_BYTES): MessageInput {
  const head = `#${i} `;
  return {
    role: i % 2 === 0 ? 'user' : 'assistant',
    content: head + WORDS.slice(0, Math.max(0, size - head.length)),
    ...extra,
  };
}

export function messages(from: number, count: number): MessageInput[] {
  return Array.from({ length: count }, (_, j) => message(from + j));
}

export function fileStore(dir: string, durability: Durability): SessionStore {
  return openStore({ dir, durability });
}

/** Creates `id` and fills it with `count` messages in `addMessages` batches (fast setup, not measured). */
export async function buildSession(store: SessionStore, id: string, count: number, title = `bench ${count}`): Promise<void> {
  await store.createSession({ id, title, agentName: 'bench' });
  await fillSession(store, id, 0, count);
}

export async function fillSession(store: SessionStore, id: string, from: number, count: number): Promise<void> {
  for (let done = 0; done < count; done += SETUP_BATCH) {
    await store.addMessages(id, messages(from + done, Math.min(SETUP_BATCH, count - done)));
  }
}

/** Builds sessions of the given sizes in `dir` with a throw-away 'process' store; returns seconds spent. */
export async function buildSessions(dir: string, specs: Array<{ id: string; count: number }>, log: (m: string) => void): Promise<number> {
  const t0 = performance.now();
  const store = fileStore(dir, 'process');
  try {
    for (const s of specs) {
      const t = performance.now();
      await buildSession(store, s.id, s.count);
      if (s.count >= 10_000) log(`built ${s.id}: ${s.count} messages in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
  } finally {
    await store.close();
  }
  return (performance.now() - t0) / 1000;
}

export function sizeLabel(n: number): string {
  if (n >= 1000 && n % 1000 === 0) return `${n / 1000}k`;
  return String(n);
}

export function fileSize(p: string): number {
  try {
    return fs.statSync(p).size;
  } catch {
    return 0;
  }
}

export function logPath(dir: string, id: string): string {
  return path.join(dir, 'sessions', `${id}.jsonl`);
}

export function journalPath(dir: string): string {
  return path.join(dir, 'index', 'journal.jsonl');
}

/** Asks V8 for a full collection when run with --expose-gc, so one case's garbage is not billed to the next. */
export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** A full collection, then a pause so V8's concurrent sweeping is done before the next timed call. */
export async function settle(ms = 30): Promise<void> {
  gc();
  await new Promise((resolve) => setTimeout(resolve, ms));
}
