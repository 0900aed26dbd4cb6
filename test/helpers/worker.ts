/**
 * A child process for concurrency tests: opens the store described by argv[2] (a JSON StoreRecipe) and
 * runs one job from argv[3]. Every acknowledged write is printed as one JSON line on stdout, so the
 * parent can check that each one survived, even when it kills this process with SIGKILL.
 */
import { openStore, type SessionStore } from '../../src/index.js';
import type { StoreRecipe } from '../conformance/harness.js';

export type Job =
  | { kind: 'append'; sessionId: string; writer: string; count: number; mixed?: boolean; batch?: number }
  | { kind: 'append-forever'; sessionId: string; writer: string; batch?: number }
  | { kind: 'append-expected'; sessionId: string; writer: string; expectedSeq: number }
  | { kind: 'create'; sessionId: string; writer: string }
  | { kind: 'append-two'; sessionId: string; writer: string };

export async function openFromRecipe(recipe: StoreRecipe): Promise<SessionStore> {
  if (recipe.kind === 'file') return openStore({ dir: recipe.dir, durability: recipe.durability ?? 'full' });
  return openStore({ url: recipe.url, ...(recipe.schema ? { schema: recipe.schema } : {}) });
}

function ack(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** One job against one store; `ack` reports each acknowledged write. Shared by child processes and in-process runs. */
export async function runJob(store: SessionStore, job: Job, ack: (value: unknown) => void): Promise<void> {
  switch (job.kind) {
    case 'append':
      for (let i = 0; i < job.count; i++) {
        const m = await store.addMessage(job.sessionId, { id: `${job.writer}-${i}`, role: 'user', content: `${job.writer} says ${i}` });
        ack({ id: m.id, seq: m.seq });
        if (job.mixed && i % 25 === 7) await store.setTitle(job.sessionId, `title by ${job.writer} at ${i}`);
        if (job.mixed && i % 50 === 13) await store.createSnapshot(job.sessionId, { label: `${job.writer}-${i}` });
        if (job.mixed && i % 40 === 21) await store.shareSession(job.sessionId);
        if (job.mixed && i % 40 === 31) await store.unshareSession(job.sessionId);
        if (job.mixed && i % 30 === 3) await store.updateMetadata(job.sessionId, { [job.writer]: i });
      }
      break;
    case 'append-forever':
      for (let i = 0; ; i++) {
        const n = job.batch ?? 1;
        const batch = Array.from({ length: n }, (_, k) => ({ id: `${job.writer}-${i}-${k}`, role: 'user' as const, content: 'x'.repeat(200) }));
        const ms = await store.addMessages(job.sessionId, batch);
        ack({ ids: ms.map((m) => m.id) });
      }
    case 'append-expected':
      try {
        const m = await store.addMessage(job.sessionId, { role: 'user', content: job.writer }, { expectedSeq: job.expectedSeq });
        ack({ ok: true, id: m.id });
      } catch (err) {
        ack({ ok: false, code: (err as { code?: string }).code });
      }
      break;
    case 'create':
      try {
        await store.createSession({ id: job.sessionId, title: job.writer });
        ack({ ok: true });
      } catch (err) {
        ack({ ok: false, code: (err as { code?: string }).code });
      }
      break;
    case 'append-two':
      await store.addMessage(job.sessionId, { role: 'user', content: `external 1 from ${job.writer}` });
      await store.addMessage(job.sessionId, { role: 'assistant', content: `external 2 from ${job.writer}` });
      ack({ ok: true });
      break;
  }
}

async function main(): Promise<void> {
  const recipe = JSON.parse(process.argv[2]!) as StoreRecipe;
  const job = JSON.parse(process.argv[3]!) as Job;
  const store = await openFromRecipe(recipe);
  try {
    await runJob(store, job, ack);
  } finally {
    await store.close();
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop()!);
if (isMain) {
  // Wait for a "go" line on stdin when asked, so many workers start their writes at the same moment.
  if (process.env.WORKER_WAIT_FOR_GO === '1') {
    process.stdin.once('data', () => {
      process.stdin.pause(); // stdin must not keep this process alive once the job is done
      void main().then(exit, fail);
    });
  } else void main().then(exit, fail);
}

// Explicit: a backend's idle timers must not keep a finished worker alive (stdout to a pipe is synchronous on Linux).
function exit(): void {
  process.exit(0);
}

function fail(err: unknown): void {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
