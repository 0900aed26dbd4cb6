/**
 * Memory: peak RSS of a process that lists 100 000 sessions page by page, and of one that reads a
 * 100 000-message session page by page, against a process that only loaded the library. Each
 * measurement is a fresh child process (bench/memory-probe.ts), so peaks do not mix. Quick mode lists
 * 10 000 sessions; smoke uses 200 sessions and a 300-message session.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { buildSessions, fileSize, fileStore, journalPath, logPath, sizeLabel } from '../lib/fixtures.js';
import { fmtBytes, fmtMs, fmtRatio } from '../lib/stats.js';
import { bySize } from '../lib/scale.js';
import { target, type Workload } from '../lib/types.js';
import { sessionId } from './listing.js';

const run = promisify(execFile);

interface Probe {
  mode: string;
  items: number;
  pages: number;
  ms: number;
  maxRSS: number;
  vmHWM: number;
  peakHeap: number;
}

const workload: Workload = {
  name: 'memory',
  title: 'Memory (peak RSS)',
  async run(ctx, out) {
    const { root } = ctx.config;
    const sessions = bySize(ctx.config, { full: 100_000, quick: 10_000, smoke: 200 });
    const messages = bySize(ctx.config, { full: 100_000, quick: 100_000, smoke: 300 });
    const dir = ctx.tmpDir;
    const bigId = 'long';
    const buildS = await buildSessions(dir, [{ id: bigId, count: messages }], ctx.log);
    ctx.log(`creating ${sessions} sessions`);
    const t0 = performance.now();
    const creator = fileStore(dir, 'process');
    try {
      for (let i = 0; i < sessions - 1; i++) await creator.createSession({ id: sessionId(i), title: `session ${i}`, agentName: 'bench' });
    } finally {
      await creator.close();
    }
    out.notes.push(
      `setup: one ${sizeLabel(messages)}-message session (${buildS.toFixed(1)} s) and ${sizeLabel(sessions)} sessions in all (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
    const probe = async (...args: string[]): Promise<Probe> => {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(root, 'bench', 'memory-probe.ts'), ...args], {
        cwd: root,
        maxBuffer: 1 << 20,
      });
      return JSON.parse(stdout.trim().split('\n').pop()!) as Probe;
    };
    ctx.log('baseline probe');
    const base = await probe('baseline', dir);
    ctx.log('listing probe');
    const list = await probe('list', dir);
    ctx.log('reading probe');
    const read = await probe('read', dir, bigId);
    if (list.items !== sessions) out.integrityErrors.push(`listing page by page returned ${list.items} sessions, expected ${sessions}`);
    if (read.items !== messages) out.integrityErrors.push(`reading page by page returned ${read.items} messages, expected ${messages}`);
    const logBytes = fileSize(logPath(dir, bigId));
    const indexBytes = fileSize(journalPath(dir)) + fileSize(path.join(dir, 'index', 'snapshot.jsonl'));
    const row = (label: string, p: Probe, onDisk: string) => [
      label,
      p.mode === 'baseline' ? '' : `${p.pages} × 50`,
      p.mode === 'baseline' ? '' : fmtMs(p.ms),
      fmtBytes(p.maxRSS),
      p.mode === 'baseline' ? '' : `+${fmtBytes(p.maxRSS - base.maxRSS)}`,
      fmtBytes(p.peakHeap),
      onDisk,
      p.mode === 'baseline' ? '' : fmtRatio((p.maxRSS - base.maxRSS) / (p.mode === 'list' ? indexBytes : logBytes)),
    ];
    out.tables.push({
      title: 'Peak RSS of a dedicated process (resourceUsage().maxRSS)',
      columns: ['process', 'pages', 'time', 'peak RSS', 'over baseline', 'heap (sampled)', 'on disk', 'extra RSS / on-disk bytes'],
      rows: [
        row('baseline: library loaded, store opened', base, ''),
        row(`list all ${sizeLabel(sessions)} sessions (listSessions, limit 50)`, list, `index ${fmtBytes(indexBytes)}`),
        row(`read all ${sizeLabel(messages)} messages (getMessages, limit 50)`, read, `log ${fmtBytes(logBytes)}`),
      ],
    });
    // "Bounded": serving a page of 50 must not hold the session. A quarter of the log is generous for
    // read buffers and a compact per-message index; holding every message (the fold before 2026-12-02's
    // second round) was ~2x the log.
    const readExtra = read.maxRSS - base.maxRSS;
    out.targets.push(
      target(
        'memory',
        `read ${sizeLabel(messages)} messages page by page: extra peak RSS / log size`,
        readExtra / logBytes,
        0.25,
        `+${fmtBytes(readExtra)} for a ${fmtBytes(logBytes)} log (listing ${sizeLabel(sessions)} sessions: +${fmtBytes(list.maxRSS - base.maxRSS)} for a ${fmtBytes(indexBytes)} index, held in memory by design)`,
      ),
    );
    out.notes.push(
      `reading page by page keeps a compact fold (seqs and ids, no bodies) and reads each page's bodies from the log: +${fmtBytes(readExtra)} for a ${fmtBytes(logBytes)} log, most of it the JavaScript heap's own growth under the fold's parse garbage (see BENCHMARKS.md)`,
      'getMessages({afterSeq, limit}) returns the LATEST `limit` messages after afterSeq, so it cannot page forward; the probe pages backward with {beforeSeq, limit: 50}',
    );
    out.data = { baseline: base, list, read, logBytes, indexBytes, sessions, messages };
  },
};

export default workload;
