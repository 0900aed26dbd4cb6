/**
 * Fork: forkSession at message 50 000 of a 100 000-message session vs at message 10 (forks copy no
 * messages, so the cost should not depend on the fork point), and reading a fork on a cold handle.
 * (Full and quick sizes; smoke: a 300-message parent.)
 */
import { buildSessions, fileStore, settle, sizeLabel } from '../lib/fixtures.js';
import { fmtBytes, fmtMs, fmtRatio, rotate, summarize } from '../lib/stats.js';
import { bySize } from '../lib/scale.js';
import { target, type Workload } from '../lib/types.js';

const workload: Workload = {
  name: 'fork',
  title: 'Fork',
  async run(ctx, out) {
    const size = bySize(ctx.config, { full: 100_000, quick: 100_000, smoke: 300 });
    const deep = size / 2;
    const early = 10;
    const parent = 'parent';
    const dir = ctx.tmpDir;
    const buildS = await buildSessions(dir, [{ id: parent, count: size }], ctx.log);
    out.notes.push(`setup: ${sizeLabel(size)} messages in ${buildS.toFixed(1)} s`);
    const points = { deep, early } as const;
    const reps = bySize(ctx.config, { full: 20, quick: 10, smoke: 3 });
    const samples: Record<'deep' | 'early', number[]> = { deep: [], early: [] };
    const store = fileStore(dir, 'process');
    try {
      await store.getSessionInfo(parent); // warm handle: the parent is folded once, not per fork
      for (const k of ['deep', 'early'] as const) await store.forkSession(parent, { atIndex: points[k] - 1, id: `warmup-${k}` });
      ctx.log(`forkSession × ${reps} at message ${deep} and at message ${early}`);
      await settle();
      for (let r = 0; r < reps; r++) {
        for (const k of rotate(['deep', 'early'] as const, r)) {
          const t0 = performance.now();
          await store.forkSession(parent, { atIndex: points[k] - 1, id: `fork-${k}-${r}` });
          samples[k].push(performance.now() - t0);
        }
      }
    } finally {
      await store.close();
    }
    const d = summarize(samples.deep);
    const e = summarize(samples.early);
    const rows: Array<Array<string | number>> = [
      [`forkSession at message ${sizeLabel(deep)} (warm handle)`, d.n, fmtMs(d.p50), fmtMs(d.p99), fmtRatio(d.p50 / e.p50), ''],
      [`forkSession at message ${early} (warm handle)`, e.n, fmtMs(e.p50), fmtMs(e.p99), '1.00×', ''],
    ];
    out.targets.push(target('fork', `forkSession p50 at message ${sizeLabel(deep)} / at message ${early}`, d.p50 / e.p50, 2, `${fmtMs(d.p50)} vs ${fmtMs(e.p50)} on a ${sizeLabel(size)}-message parent`));

    // Reading a fork on a cold handle: its prefix comes from the parent's log.
    const coldReps = bySize(ctx.config, { full: 5, quick: 3, smoke: 2 });
    ctx.log(`cold getMessages({limit: 50}) of the forks and the parent × ${coldReps}`);
    const cases: Array<{ label: string; id: string; expectLastSeq?: number }> = [
      { label: `fork at message ${sizeLabel(deep)}`, id: 'fork-deep-0', expectLastSeq: deep + 1 },
      { label: `fork at message ${early}`, id: 'fork-early-0', expectLastSeq: early + 1 },
      { label: `the ${sizeLabel(size)}-message parent itself`, id: parent },
    ];
    const cold: number[][] = cases.map(() => []);
    const coldBytes: number[] = cases.map(() => 0);
    for (let r = 0; r < coldReps; r++) {
      for (const i of rotate([0, 1, 2], r)) {
        await settle();
        const s = fileStore(dir, 'process');
        const t0 = performance.now();
        const page = await s.getMessages(cases[i]!.id, { limit: 50 });
        cold[i]!.push(performance.now() - t0);
        coldBytes[i] = (s.driver as { stats?: { logBytesRead: number } }).stats?.logBytesRead ?? Number.NaN;
        const want = cases[i]!.expectLastSeq;
        if (want !== undefined && page[page.length - 1]?.seq !== want) {
          throw new Error(`${cases[i]!.id}: last message has seq ${page[page.length - 1]?.seq}, expected ${want}`);
        }
        await s.close();
      }
    }
    const coldS = cold.map((c) => summarize(c));
    coldS.forEach((s, i) =>
      rows.push([`cold handle, getMessages({limit: 50}) of ${cases[i]!.label}`, s.n, fmtMs(s.p50), fmtMs(s.p99), fmtRatio(s.p50 / coldS[1]!.p50), `read ${fmtBytes(coldBytes[i]!)} of logs`]),
    );
    out.notes.push(
      `forkSession shares the parent's messages with the child (copied only when the fork is first read or extended), so its cost does not depend on the fork point; a cold read of a fork reads the parent's log up to the fork point only (${fmtBytes(coldBytes[1]!)} for the fork at message ${early}, ${fmtBytes(coldBytes[0]!)} at ${sizeLabel(deep)})`,
    );
    out.tables.push({ title: 'Fork cost and reading a fork (file driver)', columns: ['operation', 'n', 'p50', 'p99', 'ratio', 'notes'], rows, leftAlign: [0, 5] });
    out.data = { forkDeep: d, forkEarly: e, coldRead: Object.fromEntries(cases.map((c, i) => [c.label, coldS[i]])) };
  },
};

export default workload;
