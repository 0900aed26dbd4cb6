/**
 * A process dedicated to one memory measurement; prints one JSON line with its peak RSS.
 *
 *   node --import tsx bench/memory-probe.ts baseline <dir>
 *   node --import tsx bench/memory-probe.ts list <dir>                  every session, page by page (limit 50)
 *   node --import tsx bench/memory-probe.ts read <dir> <id> [passes]    every message, page by page (limit 50), `passes` times
 *   node --expose-gc --import tsx bench/memory-probe.ts held <dir> <id> as `read`, but measures what stays
 *                                                                       reachable: a full GC every 100 pages, then heap + external
 */
import * as fs from 'node:fs';
import { openStore } from '../src/store.js';

function vmHWM(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Bytes still reachable after a full collection: the JavaScript heap plus memory it holds outside (typed arrays, buffers). */
function reachable(gc: () => void): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

async function main(): Promise<void> {
  const [mode, dir, id, passArg] = process.argv.slice(2);
  if (!mode || !dir) throw new Error('usage: memory-probe.ts baseline|list|read|held <dir> [id] [passes]');
  const passes = passArg === undefined ? 1 : Number(passArg);
  if (!Number.isSafeInteger(passes) || passes < 1) throw new Error(`passes must be a positive integer, got ${passArg}`);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (mode === 'held' && !gc) throw new Error('held needs node --expose-gc');
  const store = openStore({ dir, durability: 'process' });
  const heldBefore = mode === 'held' ? reachable(gc!) : 0;
  let heldMax = 0;
  const t0 = performance.now();
  let items = 0;
  let pages = 0;
  let peakHeap = process.memoryUsage().heapUsed;
  if (mode === 'list') {
    let cursor: string | null = null;
    do {
      const page = await store.listSessions({ limit: 50, cursor });
      items += page.sessions.length;
      pages++;
      cursor = page.nextCursor;
      if (pages % 100 === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    } while (cursor !== null);
  } else if (mode === 'read' || mode === 'held') {
    if (!id) throw new Error(`${mode} needs a session id`);
    for (let pass = 0; pass < passes; pass++) {
      // Newest page first, then older ones: `limit` keeps the latest N of the range, so paging walks
      // back with beforeSeq (afterSeq + limit would return the newest 50 after afterSeq, i.e. jump to the end).
      let beforeSeq: number | undefined;
      for (;;) {
        const page = await store.getMessages(id, beforeSeq === undefined ? { limit: 50 } : { limit: 50, beforeSeq });
        if (page.length === 0) break;
        items += page.length;
        pages++;
        beforeSeq = page[0]!.seq;
        if (pages % 100 === 0) {
          peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
          if (mode === 'held') heldMax = Math.max(heldMax, reachable(gc!) - heldBefore);
        }
      }
    }
    if (mode === 'held') heldMax = Math.max(heldMax, reachable(gc!) - heldBefore);
  } else if (mode !== 'baseline') {
    throw new Error(`unknown mode ${mode}`);
  }
  const ms = performance.now() - t0;
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  await store.close();
  const maxRSS = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(JSON.stringify({ mode, items, pages, ms, maxRSS, vmHWM: vmHWM(), peakHeap, heldMax }) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`memory probe failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
