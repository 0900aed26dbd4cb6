/**
 * The many-writers measurement, for any backend: 8 OS processes (bench/writer.ts) append a fixed count
 * each, all to one session and each to its own session, against one process doing the same total as
 * the baseline. Afterwards every session is read back through a fresh store AND through the backend's
 * raw storage (bypassing the store, so a symmetric bug cannot hide): every acknowledged append exactly
 * once, seqs gap-free.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import type { SessionStore } from '../../src/store.js';
import { fmtBytes, fmtMs, fmtRatio, fmtRate, summarize, type Summary } from './stats.js';

export const WRITERS = 8;

/** Where one layout's writers write: a fresh file store directory, or fresh ids in a PostgreSQL schema. */
export interface WriterTarget {
  /** bench/writer.ts arguments that open this target's store (`--dir … --durability …`, or `--schema …`). */
  args: string[];
  /** Environment for the writers on top of this process's (PostgreSQL: the URL, kept off the command line). */
  env?: Record<string, string>;
  /** A store on the target, for setup and for reading back. */
  open(): SessionStore;
  /** The seqs of one session's events as stored, read without the store (the log file, the events table). */
  rawSeqs(id: string): Promise<number[]>;
  cleanup(): Promise<void>;
}

export interface WriterMeasurement {
  rows: Array<Array<string | number>>;
  /** Lost, duplicated or unexpected appends, seq gaps, failed writers: integrity errors. */
  problems: string[];
  data: Record<string, unknown>;
  lost: number;
  duplicated: number;
}

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

async function runWriters(root: string, args: string[], env: Record<string, string>, sessions: string[], count: number): Promise<{ reports: WriterReport[]; failures: string[] }> {
  const script = path.join(root, 'bench', 'writer.ts');
  const failures: string[] = [];
  const procs = sessions.map((session, w) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args, '--session', session, '--count', String(count), '--writer', String(w)], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
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

/** Checks that every acknowledged (w, i) is stored exactly once and seqs are gap-free, through the store and raw. */
async function verify(target: WriterTarget, reports: WriterReport[], sessions: string[]): Promise<{ lost: number; duplicated: number; unexpected: number; seqProblems: string[] }> {
  const store = target.open();
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
      const raw = await target.rawSeqs(id);
      const gap = raw.findIndex((seq, k) => seq !== k + 1);
      if (gap >= 0) seqProblems.push(`${id}: raw event ${gap + 1} has seq ${raw[gap]}`);
      if (raw.length !== msgs.length + 1) seqProblems.push(`${id}: ${raw.length} raw events for ${msgs.length} messages`);
    }
  } finally {
    await store.close();
  }
  return { lost, duplicated, unexpected, seqProblems };
}

/**
 * Runs the three layouts (1 writer, 8 → 1 session, 8 → 8 sessions) on fresh targets, `count` appends per
 * writer (the baseline writer does all 8 × count). `label` names the backend in the rows (e.g. 'process').
 */
export async function measureWriters(
  root: string,
  label: string,
  count: number,
  freshTarget: () => Promise<WriterTarget>,
  log: (m: string) => void,
): Promise<WriterMeasurement> {
  const layouts: Array<{ label: string; sessions: string[]; count: number }> = [
    { label: `1 writer → 1 session (baseline, ${WRITERS * count} appends)`, sessions: ['solo'], count: WRITERS * count },
    { label: `${WRITERS} writers → 1 session`, sessions: Array.from({ length: WRITERS }, () => 'shared'), count },
    { label: `${WRITERS} writers → ${WRITERS} sessions`, sessions: Array.from({ length: WRITERS }, (_, w) => `own-${w}`), count },
  ];
  const m: WriterMeasurement = { rows: [], problems: [], data: {}, lost: 0, duplicated: 0 };
  let baseRate = Number.NaN;
  for (const layout of layouts) {
    const target = await freshTarget();
    try {
      const setup = target.open();
      try {
        for (const id of new Set(layout.sessions)) await setup.createSession({ id, title: id });
      } finally {
        await setup.close();
      }
      log(`${label}: ${layout.label}, ${layout.count} appends each`);
      const { reports, failures } = await runWriters(root, target.args, target.env ?? {}, layout.sessions, layout.count);
      const total = reports.reduce((a, r) => a + r.acked.length, 0);
      const errors = reports.flatMap((r) => r.errors.map((e) => `writer ${r.w}: ${e}`));
      const wall = Math.max(...reports.map((r) => r.end)) - Math.min(...reports.map((r) => r.start));
      const rate = (total / wall) * 1000;
      if (layout.sessions.length === 1) baseRate = rate;
      const lat: Summary = summarize(reports.flatMap((r) => r.latencies));
      const v = await verify(target, reports, layout.sessions);
      const expectedTotal = layout.sessions.length * layout.count;
      m.rows.push([
        label,
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
      m.lost += v.lost;
      m.duplicated += v.duplicated;
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
      for (const p of problems) m.problems.push(`${label} ${layout.label}: ${p}`);
      m.data[`${label}/${layout.label}`] = {
        total,
        expectedTotal,
        wallMs: wall,
        appendsPerSecond: rate,
        latency: lat,
        writerPeakRssBytes: reports.map((r) => r.maxRss),
        ...v,
        errors: errors.length,
      };
    } finally {
      await target.cleanup();
    }
  }
  return m;
}

export const WRITER_COLUMNS = ['backend', 'layout', 'acked', 'wall', 'appends/s', 'vs 1 writer', 'p50', 'p99', 'peak RSS (max of writers)', 'lost', 'dup', 'errors'];
