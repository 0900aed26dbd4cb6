/** Shapes exchanged between the runner (bench/run.ts) and a workload child (bench/child.ts). */

/**
 * How big a run is: 'full' (the large sizes), 'quick' (the default: the same history lengths, smaller
 * listing fixtures and fewer repetitions, < 3 min on 2 cores) or 'smoke' (tiny sizes, a few iterations:
 * checks that every workload still runs; its figures and targets mean nothing).
 */
export type BenchMode = 'smoke' | 'quick' | 'full';

export const BENCH_MODES: readonly BenchMode[] = ['smoke', 'quick', 'full'];

/** The seed of a run unless `--seed N` says otherwise (recorded in the results JSON). */
export const DEFAULT_SEED = 20261202;

export interface BenchConfig {
  mode: BenchMode;
  /** Seeds every random choice a workload makes (bench/lib/random.ts); data content is index-derived. */
  seed: number;
  /** Repository root (cwd of every child, so `--import tsx` resolves). */
  root: string;
  /** PostgreSQL URL for the postgres workload. */
  pgUrl: string;
}

export interface Table {
  title: string;
  columns: string[];
  rows: Array<Array<string | number>>;
  /** Columns (by index) to left-align; the rest are right-aligned. Default: the first. */
  leftAlign?: number[];
}

export interface Target {
  workload: string;
  /** What is compared, e.g. "append p50 @100k / @100 (process)". */
  name: string;
  /** The measured ratio (or value). */
  measured: number;
  /** The bound: measured <= limit passes (or >= when `atLeast`). */
  limit: number;
  atLeast?: boolean;
  pass: boolean;
  /** Figures behind the ratio, for the summary. */
  detail: string;
  /** How `measured` is shown: a ratio (default) or a plain count. */
  unit?: 'ratio' | 'count';
}

export interface WorkloadResult {
  name: string;
  title: string;
  elapsedMs: number;
  tables: Table[];
  targets: Target[];
  notes: string[];
  /** Correctness failures (lost/duplicate writes): the run exits non-zero. */
  integrityErrors: string[];
  /** Set when the workload could not run at all (e.g. PostgreSQL unavailable). */
  skipped?: string;
  /** Raw figures for the results JSON (bench/results/<date>.json). */
  data: Record<string, unknown>;
  /**
   * Peak RSS of the workload's own process over its whole run, setup included (processes it starts,
   * such as the writers or the memory probes, report their own).
   */
  peakRssBytes?: number;
}

export interface WorkloadContext {
  config: BenchConfig;
  /** Progress line on stderr. */
  log(message: string): void;
  /** A fresh temp dir for this workload (removed by the child when the workload ends). */
  tmpDir: string;
}

export interface Workload {
  name: string;
  title: string;
  run(ctx: WorkloadContext, out: WorkloadResult): Promise<void>;
}

export function target(
  workload: string,
  name: string,
  measured: number,
  limit: number,
  detail: string,
  atLeast = false,
  unit: 'ratio' | 'count' = 'ratio',
): Target {
  const pass = Number.isFinite(measured) && (atLeast ? measured >= limit : measured <= limit);
  return { workload, name, measured, limit, pass, detail, ...(atLeast ? { atLeast } : {}), ...(unit === 'count' ? { unit } : {}) };
}
