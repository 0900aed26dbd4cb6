/**
 * Reads: cold open of a long session, warm chat history, and a fresh read after one append made by
 * another store handle (its own cache, like another process): only the log's tail should be read.
 */
import type { FileDriver } from '../../src/drivers/file.js';
import type { SessionStore } from '../../src/store.js';
import { buildSessions, fileStore, message, settle, sizeLabel } from '../lib/fixtures.js';
import { fmtBytes, fmtMs, fmtRatio, rotate, summarize, type Summary } from '../lib/stats.js';
import { bySize } from '../lib/scale.js';
import { target, type Workload } from '../lib/types.js';

function logBytesRead(store: SessionStore): number {
  return (store.driver as Partial<FileDriver>).stats?.logBytesRead ?? Number.NaN;
}

const workload: Workload = {
  name: 'reads',
  title: 'Reads',
  async run(ctx, out) {
    const small = 100;
    const big = bySize(ctx.config, { full: 100_000, quick: 100_000, smoke: 300 });
    const sizes = [small, big];
    const ids = sizes.map((n) => `r${n}`);
    const dir = ctx.tmpDir;
    const buildS = await buildSessions(dir, sizes.map((n, i) => ({ id: ids[i]!, count: n })), ctx.log);
    out.notes.push(`setup: ${sizes.map(sizeLabel).join(' + ')} messages in ${buildS.toFixed(1)} s`);
    const rows: Array<Array<string | number>> = [];
    const data: Record<string, unknown> = {};
    const addRows = (what: string, stats: Summary[], extra: string[] = []) => {
      stats.forEach((s, i) => {
        rows.push([what, sizeLabel(sizes[i]!), s.n, fmtMs(s.p50), fmtMs(s.p99), i === 0 ? '1.00×' : fmtRatio(s.p50 / stats[0]!.p50), extra[i] ?? '']);
      });
    };

    // 1. Cold open: a new handle, first getMessages({limit: 50}).
    const coldReps = bySize(ctx.config, { full: 7, quick: 3, smoke: 2 });
    ctx.log(`cold open × ${coldReps}`);
    const cold: number[][] = sizes.map(() => []);
    const coldBytes: number[] = sizes.map(() => 0);
    for (let r = 0; r < coldReps; r++) {
      for (const i of rotate([0, 1], r)) {
        await settle();
        const store = fileStore(dir, 'process');
        const t0 = performance.now();
        const page = await store.getMessages(ids[i]!, { limit: 50 });
        cold[i]!.push(performance.now() - t0);
        coldBytes[i] = logBytesRead(store);
        if (page.length !== 50) throw new Error(`cold read returned ${page.length} messages`);
        await store.close();
      }
    }
    const coldS = cold.map((c) => summarize(c));
    addRows('cold open: new handle, first getMessages({limit: 50})', coldS, coldBytes.map((b) => `read ${fmtBytes(b)} of log`));
    data.coldOpen = coldS;

    // 2 and 3 on warm handles: A reads, B (another SessionStore, own cache) writes.
    const a = fileStore(dir, 'process');
    const b = fileStore(dir, 'process');
    try {
      for (const id of ids) {
        await a.getMessages(id, { limit: 50 });
        await b.getSessionInfo(id);
      }
      // 2. Warm getChatHistory({maxMessages: 50}).
      // Timed in 10 interleaved rounds of warmN / 10 calls per session.
      const warmN = bySize(ctx.config, { full: 500, quick: 300, smoke: 20 });
      const warmups = bySize(ctx.config, { full: 50, quick: 50, smoke: 5 });
      ctx.log(`warm getChatHistory × ${warmN}`);
      for (let w = 0; w < warmups; w++) for (const id of ids) await a.getChatHistory(id, { maxMessages: 50 });
      const hist: number[][] = sizes.map(() => []);
      const warmPage: number[][] = sizes.map(() => []);
      for (let r = 0; r < 10; r++) {
        for (const i of rotate([0, 1], r)) {
          for (let k = 0; k < warmN / 10; k++) {
            let t0 = performance.now();
            await a.getChatHistory(ids[i]!, { maxMessages: 50 });
            hist[i]!.push(performance.now() - t0);
            t0 = performance.now();
            await a.getMessages(ids[i]!, { limit: 50 });
            warmPage[i]!.push(performance.now() - t0);
          }
        }
      }
      const histS = hist.map((h) => summarize(h));
      const warmPageS = warmPage.map((h) => summarize(h));
      addRows('warm getChatHistory({maxMessages: 50})', histS);
      addRows('warm getMessages({limit: 50}), nothing changed', warmPageS);
      data.warmChatHistory = histS;
      data.warmGetMessages = warmPageS;

      // 3. Fresh read after ONE external append.
      const freshN = bySize(ctx.config, { full: 100, quick: 60, smoke: 3 });
      ctx.log(`fresh read after one external append × ${freshN}`);
      const fresh: number[][] = sizes.map(() => []);
      const freshBytes: number[][] = sizes.map(() => []);
      let n = 1_000_000;
      for (let w = 0; w < 5; w++) for (const id of ids) {
        await b.addMessage(id, message(n++));
        await a.getMessages(id, { limit: 50 });
      }
      for (let r = 0; r < freshN; r++) {
        for (const i of rotate([0, 1], r)) {
          const written = await b.addMessage(ids[i]!, message(n++));
          const before = logBytesRead(a);
          const t0 = performance.now();
          const page = await a.getMessages(ids[i]!, { limit: 50 });
          fresh[i]!.push(performance.now() - t0);
          freshBytes[i]!.push(logBytesRead(a) - before);
          if (page[page.length - 1]?.id !== written.id) throw new Error('fresh read did not see the external append');
        }
      }
      const freshS = fresh.map((f) => summarize(f));
      const bytesP50 = freshBytes.map((f) => summarize(f).p50);
      addRows('fresh getMessages({limit: 50}) after 1 append by another handle', freshS, bytesP50.map((x) => `read ${fmtBytes(x)} of log`));
      data.freshAfterExternalAppend = { stats: freshS, logBytesReadP50: bytesP50 };
      const ratio = freshS[1]!.p50 / freshS[0]!.p50;
      out.targets.push(
        target('reads', `fresh read after external append p50 @${sizeLabel(big)} / @${sizeLabel(small)}`, ratio, 2, `${fmtMs(freshS[1]!.p50)} vs ${fmtMs(freshS[0]!.p50)}; log bytes read ${fmtBytes(bytesP50[1]!)} vs ${fmtBytes(bytesP50[0]!)}`),
      );
    } finally {
      await a.close();
      await b.close();
    }
    out.tables.push({
      title: `Read latency (file driver; ratios on p50 against the ${sizeLabel(small)}-message session)`,
      columns: ['operation', 'history', 'n', 'p50', 'p99', `vs @${sizeLabel(small)}`, 'notes'],
      rows,
      leftAlign: [0, 6],
    });
    out.data = data;
  },
};

export default workload;
