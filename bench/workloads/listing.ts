/**
 * Listing: listSessions({limit: 50}) over 1 000, 10 000 and 100 000 sessions, on a warm handle and as
 * the first call of a cold handle. Sessions are created with durability 'process'; creation is timed
 * and capped so it stays within a budget. Quick mode stops at 10 000 sessions, smoke at 300.
 */
import { fileStore, gc, settle, sizeLabel } from '../lib/fixtures.js';
import { fmtBytes, fmtMs, fmtRate, fmtRatio, summarize, type Summary } from '../lib/stats.js';
import { bySize } from '../lib/scale.js';
import { target, type Workload } from '../lib/types.js';

const CREATE_BUDGET_S = 180;

export function sessionId(i: number): string {
  return `s${String(i).padStart(7, '0')}`;
}

const workload: Workload = {
  name: 'listing',
  title: 'Listing',
  async run(ctx, out) {
    const levels = bySize(ctx.config, { full: [1_000, 10_000, 100_000], quick: [1_000, 10_000], smoke: [100, 300] });
    const warmN = bySize(ctx.config, { full: 200, quick: 100, smoke: 10 });
    const warmups = bySize(ctx.config, { full: 20, quick: 20, smoke: 3 });
    const coldReps = bySize(ctx.config, { full: 5, quick: 3, smoke: 2 });
    const dir = ctx.tmpDir;
    const creator = fileStore(dir, 'process');
    const warm = fileStore(dir, 'process');
    const rows: Array<Array<string | number>> = [];
    const data: Record<string, unknown> = {};
    const warmAt: Summary[] = [];
    const coldAt: Summary[] = [];
    let created = 0;
    let createMs = 0;
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    try {
      for (const [li, wanted] of levels.entries()) {
        let level = wanted;
        if (created > 0) {
          const rate = created / (createMs / 1000);
          const fits = Math.floor(((CREATE_BUDGET_S - createMs / 1000) * rate + created) / 1000) * 1000;
          if (fits < wanted) {
            level = Math.max(created, fits);
            out.notes.push(
              `creating ${fmtInt(wanted)} sessions would take ~${((wanted - created) / rate + createMs / 1000).toFixed(0)} s at ${fmtRate(rate)}: capped at ${fmtInt(level)} (budget ${CREATE_BUDGET_S} s)`,
            );
          }
        }
        ctx.log(`creating sessions ${created} → ${level}`);
        const t0 = performance.now();
        for (; created < level; created++) {
          await creator.createSession({ id: sessionId(created), title: `session ${created}`, agentName: 'bench', userId: `user-${created % 97}` });
        }
        createMs += performance.now() - t0;

        // Warm handle: the first call catches up on the new index lines; then it is warm.
        let t = performance.now();
        const first = await warm.listSessions({ limit: 50 });
        const catchUpMs = performance.now() - t;
        if (first.sessions.length !== 50 || first.sessions[0]!.id !== sessionId(level - 1)) {
          throw new Error(`listing returned ${first.sessions.length} sessions starting at ${first.sessions[0]?.id}`);
        }
        for (let w = 0; w < warmups; w++) await warm.listSessions({ limit: 50 });
        const warmSamples: number[] = [];
        const pageTwo: number[] = [];
        for (let k = 0; k < warmN; k++) {
          t = performance.now();
          await warm.listSessions({ limit: 50 });
          warmSamples.push(performance.now() - t);
          if (k % 4 === 0) {
            t = performance.now();
            await warm.listSessions({ limit: 50, cursor: first.nextCursor });
            pageTwo.push(performance.now() - t);
          }
        }
        // Cold handle: the first call loads the whole index.
        const coldSamples: number[] = [];
        let coldIndexBytes = 0;
        for (let r = 0; r < coldReps; r++) {
          await settle();
          const cold = fileStore(dir, 'process');
          t = performance.now();
          await cold.listSessions({ limit: 50 });
          coldSamples.push(performance.now() - t);
          coldIndexBytes = (cold.driver as { stats?: { indexBytesRead: number } }).stats?.indexBytesRead ?? Number.NaN;
          await cold.close();
        }
        const ws = summarize(warmSamples);
        const ps = summarize(pageTwo);
        const cs = summarize(coldSamples);
        warmAt.push(ws);
        coldAt.push(cs);
        rows.push(
          [sizeLabel(level), 'warm handle, first page', ws.n, fmtMs(ws.p50), fmtMs(ws.p99), fmtRatio(ws.p50 / warmAt[0]!.p50), ''],
          [sizeLabel(level), 'warm handle, second page (cursor)', ps.n, fmtMs(ps.p50), fmtMs(ps.p99), '', ''],
          [sizeLabel(level), 'warm handle, catch-up after creating', 1, fmtMs(catchUpMs), '', '', `${fmtInt(level - (li === 0 ? 0 : levels[li - 1]!))} new index lines`],
          [sizeLabel(level), 'cold handle, first call', cs.n, fmtMs(cs.p50), fmtMs(cs.p99), fmtRatio(cs.p50 / coldAt[0]!.p50), `reads ${fmtBytes(coldIndexBytes)} of index`],
        );
        data[String(level)] = { warm: ws, secondPage: ps, cold: cs, catchUpMs, coldIndexBytes };
      }
      gc();
      const heapAfter = process.memoryUsage().heapUsed;
      out.notes.push(
        `created ${fmtInt(created)} sessions in ${(createMs / 1000).toFixed(1)} s (${fmtRate(created / (createMs / 1000))}, one createSession each, durability 'process'); ` +
          `after a full GC the creating handle's heap is ${fmtBytes(heapAfter - heapBefore)} larger (${fmtBytes((heapAfter - heapBefore) / created)} per session: the file driver keeps the listing index in memory, and the store up to cacheSessions (1 000) folds)`,
      );
      data.created = created;
      data.createSeconds = createMs / 1000;
      data.creatorHeapGrowthBytes = heapAfter - heapBefore;
    } finally {
      await creator.close();
      await warm.close();
    }
    const last = levels.length - 1;
    const lastLevel = data.created as number;
    out.targets.push(
      target(
        'listing',
        `warm listSessions p50 @${sizeLabel(lastLevel)} / @${sizeLabel(levels[0]!)} sessions`,
        warmAt[last]!.p50 / warmAt[0]!.p50,
        3,
        `${fmtMs(warmAt[last]!.p50)} vs ${fmtMs(warmAt[0]!.p50)}; cold first call ${fmtMs(coldAt[last]!.p50)} vs ${fmtMs(coldAt[0]!.p50)}`,
      ),
    );
    out.tables.push({
      title: 'listSessions({limit: 50}) (file driver)',
      columns: ['sessions', 'call', 'n', 'p50', 'p99', `vs ${sizeLabel(levels[0]!)}`, 'notes'],
      rows,
      leftAlign: [1, 6],
    });
    out.data = data;
  },
};

function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}

export default workload;
