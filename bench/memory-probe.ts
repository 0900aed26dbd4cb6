/**
 * A process dedicated to one memory measurement; prints one JSON line with its peak RSS.
 *
 *   node --import tsx bench/memory-probe.ts baseline <dir>
 *   node --import tsx bench/memory-probe.ts list <dir>            every session, page by page (limit 50)
 *   node --import tsx bench/memory-probe.ts read <dir> <id>       every message, page by page (limit 50)
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

async function main(): Promise<void> {
  const [mode, dir, id] = process.argv.slice(2);
  if (!mode || !dir) throw new Error('usage: memory-probe.ts baseline|list|read <dir> [id]');
  const store = openStore({ dir, durability: 'process' });
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
  } else if (mode === 'read') {
    if (!id) throw new Error('read needs a session id');
    // Newest page first, then older ones: `limit` keeps the latest N of the range, so paging walks
    // back with beforeSeq (afterSeq + limit would return the newest 50 after afterSeq, i.e. jump to the end).
    let beforeSeq: number | undefined;
    for (;;) {
      const page = await store.getMessages(id, beforeSeq === undefined ? { limit: 50 } : { limit: 50, beforeSeq });
      if (page.length === 0) break;
      items += page.length;
      pages++;
      beforeSeq = page[0]!.seq;
      if (pages % 100 === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    }
  } else if (mode !== 'baseline') {
    throw new Error(`unknown mode ${mode}`);
  }
  const ms = performance.now() - t0;
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  await store.close();
  const maxRSS = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(JSON.stringify({ mode, items, pages, ms, maxRSS, vmHWM: vmHWM(), peakHeap }) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`memory probe failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
