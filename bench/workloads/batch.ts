/**
 * Batch append: one addMessages of 100 messages vs 100 single addMessage calls one after another, and vs
 * the same 100 calls made by 8 concurrent callers in one process (the store commits calls that queue
 * behind an append in flight as one append: one lock, one fsync). Both durability modes.
 */
import { buildSessions, fileStore, gc, message, messages, type Durability } from '../lib/fixtures.js';
import { bySize } from '../lib/scale.js';
import { fmtMs, fmtRatio, rotate, summarize } from '../lib/stats.js';
import type { Workload } from '../lib/types.js';

const BATCH = 100;
const CALLERS = 8;

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
    let n = 10_000;
    for (const { mode, reps } of modes) {
      gc();
      ctx.log(`durability '${mode}': ${reps} × (addMessages(${BATCH}) vs ${BATCH} × addMessage)`);
      const store = fileStore(dir, mode);
      try {
        // Warm-up: cold fold, JIT.
        await store.addMessages(id, messages(n, BATCH));
        n += BATCH;
        for (let i = 0; i < warmups; i++) await store.addMessage(id, message(n++));
        const batch: number[] = [];
        const singles: number[] = [];
        const concurrent: number[] = [];
        for (let r = 0; r < reps; r++) {
          for (const c of rotate(['batch', 'singles', 'concurrent'], r)) {
            if (c === 'batch') {
              const ms = messages(n, BATCH);
              n += BATCH;
              const t0 = performance.now();
              await store.addMessages(id, ms);
              batch.push(performance.now() - t0);
            } else if (c === 'singles') {
              const ms = messages(n, BATCH);
              n += BATCH;
              const t0 = performance.now();
              for (const m of ms) await store.addMessage(id, m);
              singles.push(performance.now() - t0);
            } else {
              const ms = messages(n, BATCH);
              n += BATCH;
              const t0 = performance.now();
              await Promise.all(
                Array.from({ length: CALLERS }, async (_, k) => {
                  for (let i = k; i < ms.length; i += CALLERS) await store.addMessage(id, ms[i]!);
                }),
              );
              concurrent.push(performance.now() - t0);
            }
          }
        }
        const b = summarize(batch);
        const s = summarize(singles);
        const c = summarize(concurrent);
        const speedup = s.p50 / b.p50;
        const concurrentSpeedup = s.p50 / c.p50;
        rows.push(
          [mode, `addMessages(${BATCH})`, b.n, fmtMs(b.p50), fmtMs(b.p99), fmtMs(b.p50 / BATCH), fmtRatio(speedup)],
          [mode, `${BATCH} × addMessage, one after another`, s.n, fmtMs(s.p50), fmtMs(s.p99), fmtMs(s.p50 / BATCH), '1.00×'],
          [mode, `${BATCH} × addMessage, ${CALLERS} concurrent callers`, c.n, fmtMs(c.p50), fmtMs(c.p99), fmtMs(c.p50 / BATCH), fmtRatio(concurrentSpeedup)],
        );
        data[mode] = { batch: b, singles: s, concurrent: c, speedup, concurrentSpeedup };
        out.notes.push(
          `'${mode}': addMessages(${BATCH}) is ${fmtRatio(speedup)} faster than ${BATCH} single appends (${fmtMs(b.p50)} vs ${fmtMs(s.p50)}); ${CALLERS} concurrent callers ${fmtRatio(concurrentSpeedup)} (their calls are committed together)`,
        );
      } finally {
        await store.close();
      }
    }
    out.tables.push({
      title: `${BATCH} messages appended as one batch, one by one, and by ${CALLERS} concurrent callers (session of ~${history.toLocaleString('en-US').replace(/,/g, ' ')} messages)`,
      columns: ['durability', 'how', 'reps', 'p50 (100 msgs)', 'p99', 'per message', 'speedup'],
      rows,
      leftAlign: [0, 1],
    });
    out.data = data;
  },
};

export default workload;
