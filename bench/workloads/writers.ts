/**
 * Many writers: 8 OS processes (bench/writer.ts) append a fixed count each, all to one session and each
 * to its own session, in both durability modes, against one process doing the same total as the
 * baseline. Afterwards every session is read back (through a fresh store and from the raw log) and
 * every acknowledged append must be there exactly once, with gap-free seqs.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileStore, logPath, type Durability } from '../lib/fixtures.js';
import { fmtBytes, fmtMs, fmtRatio, fmtRate, summarize } from '../lib/stats.js';
import { bySize } from '../lib/scale.js';
import { target, type Workload } from '../lib/types.js';

interface WriterReport {
  w: number;
  session: string;
  start: number;
  end: number;
  acked: number[];
  errors: string[];
  latencies: number[];
  /** The writer process's peak RSS in bytes. */
  maxRss: number;
}

const WRITERS = 8;

async function runWriters(
  root: string,
  dir: string,
  sessions: string[],
  count: number,
  mode: Durability,
): Promise<{ reports: WriterReport[]; failures: string[] }> {
  const script = path.join(root, 'bench', 'writer.ts');
  const failures: string[] = [];
  const procs = sessions.map((session, w) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', script, '--dir', dir, '--session', session, '--count', String(count), '--durability', mode, '--writer', String(w)],
      { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const lines = createInterface({ input: child.stdout! });
    let report: WriterReport | null = null;
    const ready = new Promise<void>((resolve, reject) => {
      lines.on('line', (line) => {
        if (line === 'ready') resolve();
        else if (line.startsWith('{')) report = JSON.parse(line) as WriterReport;
      });
      child.once('exit', () => reject(new Error(`writer ${w} exited before it was ready`)));
    });
    const done = new Promise<WriterReport | null>((resolve) =>
      child.once('exit', (code, signal) => {
        if (code !== 0) failures.push(`writer ${w} exited with ${code ?? signal}`);
        resolve(report);
      }),
    );
    return { child, ready, done };
  });
  await Promise.all(procs.map((p) => p.ready));
  for (const p of procs) p.child.stdin!.end('go\n');
  const reports = (await Promise.all(procs.map((p) => p.done))).filter((r): r is WriterReport => r !== null);
  return { reports, failures };
}

/** Checks that every acknowledged (w, i) is stored exactly once and seqs are gap-free. */
async function verify(dir: string, reports: WriterReport[], sessions: string[]): Promise<{ lost: number; duplicated: number; unexpected: number; seqProblems: string[] }> {
  const store = fileStore(dir, 'process');
  let lost = 0;
  let duplicated = 0;
  let unexpected = 0;
  const seqProblems: string[] = [];
  try {
    for (const id of new Set(sessions)) {
      const expected = new Set<string>();
      for (const r of reports) if (r.session === id) for (const i of r.acked) expected.add(`${r.w}:${i}`);
      const seen = new Map<string, number>();
      const msgs = await store.getMessages(id, { includeReverted: true });
      for (const m of msgs) {
        const md = m.metadata as { w?: number; i?: number } | undefined;
        const key = `${md?.w}:${md?.i}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
      }
      for (const key of expected) if (!seen.has(key)) lost++;
      for (const [key, n] of seen) {
        if (n > 1) duplicated += n - 1;
        if (!expected.has(key)) unexpected++;
      }
      for (let k = 0; k < msgs.length; k++) {
        if (msgs[k]!.seq !== k + 2) {
          seqProblems.push(`${id}: message ${k} has seq ${msgs[k]!.seq}, expected ${k + 2}`);
          break;
        }
      }
      const info = await store.getSessionInfo(id);
      if (info.headSeq !== msgs.length + 1) seqProblems.push(`${id}: headSeq ${info.headSeq} with ${msgs.length} messages`);
      // The raw log, bypassing the store: seqs 1..N, each exactly once.
      const raw = fs.readFileSync(logPath(dir, id), 'utf8').split('\n').filter((l) => l.length > 0);
      for (let k = 0; k < raw.length; k++) {
        const seq = (JSON.parse(raw[k]!) as { seq: number }).seq;
        if (seq !== k + 1) {
          seqProblems.push(`${id}: raw log line ${k + 1} has seq ${seq}`);
          break;
        }
      }
      if (raw.length !== msgs.length + 1) seqProblems.push(`${id}: raw log has ${raw.length} lines for ${msgs.length} messages`);
    }
  } finally {
    await store.close();
  }
  return { lost, duplicated, unexpected, seqProblems };
}

const workload: Workload = {
  name: 'writers',
  title: 'Many writers (8 OS processes)',
  async run(ctx, out) {
    const { root } = ctx.config;
    const plans: Array<{ mode: Durability; count: number }> = [
      { mode: 'process', count: bySize(ctx.config, { full: 500, quick: 200, smoke: 5 }) },
      { mode: 'full', count: bySize(ctx.config, { full: 150, quick: 60, smoke: 2 }) },
    ];
    const rows: Array<Array<string | number>> = [];
    const data: Record<string, unknown> = {};
    let run = 0;
    for (const { mode, count } of plans) {
      const layouts: Array<{ label: string; sessions: string[]; count: number }> = [
        { label: `1 writer → 1 session (baseline, ${WRITERS * count} appends)`, sessions: ['solo'], count: WRITERS * count },
        { label: `${WRITERS} writers → 1 session`, sessions: Array.from({ length: WRITERS }, () => 'shared'), count },
        { label: `${WRITERS} writers → ${WRITERS} sessions`, sessions: Array.from({ length: WRITERS }, (_, w) => `own-${w}`), count },
      ];
      let baseRate = Number.NaN;
      for (const layout of layouts) {
        const dir = path.join(ctx.tmpDir, `run-${run++}`);
        const setup = fileStore(dir, 'process');
        for (const id of new Set(layout.sessions)) await setup.createSession({ id, title: id });
        await setup.close();
        ctx.log(`'${mode}': ${layout.label}, ${layout.count} appends each`);
        const { reports, failures } = await runWriters(root, dir, layout.sessions, layout.count, mode);
        const total = reports.reduce((a, r) => a + r.acked.length, 0);
        const errors = reports.flatMap((r) => r.errors.map((e) => `writer ${r.w}: ${e}`));
        const wall = Math.max(...reports.map((r) => r.end)) - Math.min(...reports.map((r) => r.start));
        const rate = (total / wall) * 1000;
        if (layout.sessions.length === 1) baseRate = rate;
        const lat = summarize(reports.flatMap((r) => r.latencies));
        const v = await verify(dir, reports, layout.sessions);
        const expectedTotal = layout.sessions.length * layout.count;
        rows.push([
          mode,
          layout.label,
          `${total}/${expectedTotal}`,
          `${(wall / 1000).toFixed(2)} s`,
          fmtRate(rate),
          layout.sessions.length === 1 ? '1.00×' : fmtRatio(rate / baseRate),
          fmtMs(lat.p50),
          fmtMs(lat.p99),
          fmtBytes(Math.max(...reports.map((r) => r.maxRss))),
          v.lost,
          v.duplicated,
          errors.length,
        ]);
        const problems = [
          ...failures,
          ...(reports.length !== layout.sessions.length ? [`only ${reports.length} of ${layout.sessions.length} writers reported`] : []),
          ...(v.lost > 0 ? [`${v.lost} acknowledged appends lost`] : []),
          ...(v.duplicated > 0 ? [`${v.duplicated} duplicated appends`] : []),
          ...(v.unexpected > 0 ? [`${v.unexpected} stored messages that no writer acknowledged`] : []),
          ...v.seqProblems,
          ...errors.slice(0, 5).map((e) => `failed append: ${e}`),
          ...(errors.length > 5 ? [`… ${errors.length - 5} more failed appends`] : []),
        ];
        for (const p of problems) out.integrityErrors.push(`'${mode}' ${layout.label}: ${p}`);
        data[`${mode}/${layout.label}`] = { total, expectedTotal, wallMs: wall, appendsPerSecond: rate, latency: lat, writerPeakRssBytes: reports.map((r) => r.maxRss), ...v, errors: errors.length };
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    out.tables.push({
      title: 'Concurrent appends from separate OS processes (verified afterwards from a fresh store and the raw logs)',
      columns: ['durability', 'layout', 'acked', 'wall', 'appends/s', 'vs 1 writer', 'p50', 'p99', 'peak RSS (max of writers)', 'lost', 'dup', 'errors'],
      rows,
      leftAlign: [0, 1],
    });
    const lost = Object.values(data).reduce((a: number, d) => a + ((d as { lost: number }).lost ?? 0), 0);
    const dup = Object.values(data).reduce((a: number, d) => a + ((d as { duplicated: number }).duplicated ?? 0), 0);
    out.notes.push(`verification: ${lost} lost, ${dup} duplicated${out.integrityErrors.length ? ` — ${out.integrityErrors.length} problem(s), see below` : ''}`);
    const t = target('writers', 'lost + duplicated appends (all layouts)', lost + dup, 0, `${lost} lost, ${dup} duplicated, ${out.integrityErrors.length} integrity problem(s)`, false, 'count');
    t.pass = t.pass && out.integrityErrors.length === 0;
    out.targets.push(t);
    out.data = data;
  },
};

export default workload;
