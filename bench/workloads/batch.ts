/**
 * Batch append: one addMessages of 100 messages vs 100 single addMessage calls one after another, and vs
 * the same 100 calls made by 8 concurrent callers in one process (the store commits calls that queue
 * behind an append in flight as one append: one lock, one fsync). Both durability modes of the file
 * driver; the postgres workload runs the same measurement (`measureBatch`) on PostgreSQL.
 */
import type { SessionStore } from '../../src/store.js';
import { buildSessions, fileStore, gc, message, messages, type Durability } from '../lib/fixtures.js';
import { bySize } from '../lib/scale.js';
import { fmtMs, fmtRatio, rotate, summarize, type Summary } from '../lib/stats.js';
import type { Workload } from '../lib/types.js';

export const BATCH = 100;
const CALLERS = 8;

export interface BatchMeasurement {
  batch: Summary;
  singles: Summary;
  concurrent: Summary;
  /** singles / batch, on p50. */
  speedup: number;
  /** singles / concurrent, on p50. */
  concurrentSpeedup: number;
  rows: Array<Array<string | number>>;
  note: string;
}

/**
 * Times the three ways of appending BATCH messages to `id` (which must exist), `reps` times each in
 * rotating order, after `warmups` single appends. `label` names the backend in rows and the note.
 */
export async function measureBatch(store: SessionStore, id: string, label: string, reps: number, warmups: number): Promise<BatchMeasurement> {
  let n = 10_000;
  // Warm-up: cold fold, JIT.
  await store.addMessages(id, messages(n, BATCH));
  n += BATCH;
  for (let i = 0; i < warmups; i++) await store.addMessage(id, message(n++));
  const times = { batch: [] as number[], singles: [] as number[], concurrent: [] as number[] };
  for (let r = 0; r < reps; r++) {
    for (const c of rotate(['batch', 'singles', 'concurrent'] as const, r)) {
      const ms = messages(n, BATCH);
      n += BATCH;
      const t0 = performance.now();
      if (c === 'batch') await store.addMessages(id, ms);
      else if (c === 'singles') for (const m of ms) await store.addMessage(id, m);
      else {
        await Promise.all(
          Array.from({ length: CALLERS }, async (_, k) => {
            for (let i = k; i < ms.length; i += CALLERS) await store.addMessage(id, ms[i]!);
          }),
        );
      }
      times[c].push(performance.now() - t0);
    }
  }
  const b = summarize(times.batch);
  const s = summarize(times.singles);
  const c = summarize(times.concurrent);
  const speedup = s.p50 / b.p50;
  const concurrentSpeedup = s.p50 / c.p50;
  return {
    batch: b,
    singles: s,
    concurrent: c,
    speedup,
    concurrentSpeedup,
    rows: [
      [label, `addMessages(${BATCH})`, b.n, fmtMs(b.p50), fmtMs(b.p99), fmtMs(b.p50 / BATCH), fmtRatio(speedup)],
      [label, `${BATCH} × addMessage, one after another`, s.n, fmtMs(s.p50), fmtMs(s.p99), fmtMs(s.p50 / BATCH), '1.00×'],
      [label, `${BATCH} × addMessage, ${CALLERS} concurrent callers`, c.n, fmtMs(c.p50), fmtMs(c.p99), fmtMs(c.p50 / BATCH), fmtRatio(concurrentSpeedup)],
    ],
    note:
      `${label}: addMessages(${BATCH}) is ${fmtRatio(speedup)} faster than ${BATCH} single appends (${fmtMs(b.p50)} vs ${fmtMs(s.p50)}); ` +
      `${CALLERS} concurrent callers ${fmtRatio(concurrentSpeedup)} (their calls are committed together)`,
  };
}

export const BATCH_COLUMNS = ['backend', 'how', 'reps', `p50 (${BATCH} msgs)`, 'p99', 'per message', 'speedup'];

const workload: Workload = {
  name: 'batch',
  title: 'Batch append',
  async run(ctx, out) {
    const modes: Array<{ mode: Durability; reps: number }> = [
      { mode: 'process', reps: bySize(ctx.config, { full: 30, quick: 15, smoke: 2 }) },
      { mode: 'full', reps: bySize(ctx.config, { full: 10, quick: 5, smoke: 2 }) },
    ];
    const history = bySize(ctx.config, { full: 1000, quick: 1000, smoke: 100 });
    const warmups = bySize(ctx.config, { full: 20, quick: 20, smoke: 5 });
    const dir = ctx.tmpDir;
    const id = 'batch';
    await buildSessions(dir, [{ id, count: history }], ctx.log);
    const rows: Array<Array<string | number>> = [];
    const data: Record<string, unknown> = {};
    for (const { mode, reps } of modes) {
      gc();
      ctx.log(`durability '${mode}': ${reps} × (addMessages(${BATCH}) vs ${BATCH} × addMessage)`);
      const store = fileStore(dir, mode);
      try {
        const { rows: r, note, ...figures } = await measureBatch(store, id, `file '${mode}'`, reps, warmups);
        rows.push(...r);
        data[mode] = figures;
        out.notes.push(note);
      } finally {
        await store.close();
      }
    }
    out.tables.push({
      title: `${BATCH} messages appended as one batch, one by one, and by ${CALLERS} concurrent callers (session of ~${history.toLocaleString('en-US').replace(/,/g, ' ')} messages)`,
      columns: BATCH_COLUMNS,
      rows,
      leftAlign: [0, 1],
    });
    out.data = data;
  },
};

export default workload;
