/**
 * Shapes shared by the chaos campaign (chaos/run.ts), its parts (chaos/parts/*) and its child
 * processes (chaos/worker.ts).
 */

/** How a child process opens the store under test (serialisable: it travels in argv). */
export type Recipe =
  | { kind: 'file'; dir: string; durability?: 'full' | 'process'; lockTimeoutMs?: number }
  | { kind: 'url'; url: string; schema: string };

export interface ChaosConfig {
  /** The short variant (used by test/chaos.test.ts). */
  quick: boolean;
  soakSeconds: number;
  pgUrl: string;
  /** THREADLOOM_REQUIRE_SERVICES=1: an unreachable PostgreSQL fails instead of skipping. */
  requireServices: boolean;
  seed: number;
  /** Progress lines (the report itself is printed by run.ts). */
  log: (line: string) => void;
}

export interface LatencySummary {
  count: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface PartResult {
  part: string;
  ok: boolean;
  /** Set when the part (or a sub-part) did not run, with the reason. */
  skipped: string[];
  durationMs: number;
  /** Named figures: kills, acknowledged writes verified, faults injected per kind, cases run… */
  counters: Record<string, number>;
  /** Items lost, duplicated or corrupted: every one of these fails the campaign. */
  integrity: { lost: number; duplicated: number; corrupted: number };
  /** Invariant violations other than lost/duplicated/corrupted items (untyped errors, blocked writers…). */
  failures: string[];
  /** Violations of bugs already reported (chaos/known-bugs.ts): printed, do not fail the run. */
  knownBugs: string[];
  notes: string[];
  /** Soak: per-operation throughput and latency. */
  latency?: Record<string, LatencySummary>;
}
