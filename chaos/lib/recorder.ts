/**
 * Collects what one part of the campaign found. Every violation is kept as a line (the first ones in
 * full, then only counted) so the report says what broke, not just that something did.
 */
import type { LatencySummary, PartResult } from './types.js';
import { KNOWN_BUGS, type KnownBugId } from '../known-bugs.js';

const MAX_LINES = 40;

export class Recorder {
  readonly counters: Record<string, number> = {};
  readonly integrity = { lost: 0, duplicated: 0, corrupted: 0 };
  readonly failures: string[] = [];
  readonly knownBugs: string[] = [];
  readonly notes: string[] = [];
  readonly skipped: string[] = [];
  latency: Record<string, LatencySummary> | undefined;
  private failureCount = 0;
  private readonly started = performance.now();

  constructor(readonly part: string) {}

  count(key: string, n = 1): void {
    this.counters[key] = (this.counters[key] ?? 0) + n;
  }

  lost(what: string): void {
    this.integrity.lost++;
    this.fail(`LOST: ${what}`);
  }

  duplicated(what: string): void {
    this.integrity.duplicated++;
    this.fail(`DUPLICATED: ${what}`);
  }

  corrupted(what: string): void {
    this.integrity.corrupted++;
    this.fail(`CORRUPTED: ${what}`);
  }

  fail(what: string): void {
    this.failureCount++;
    if (this.failures.length < MAX_LINES) this.failures.push(what);
    else if (this.failures.length === MAX_LINES) this.failures.push('… (further failures counted only)');
  }

  /**
   * A violation explained by a bug already reported: kept visible, does not fail the run while the bug
   * is open. Once it is marked fixed, the same violation is a regression and fails the run.
   */
  known(bug: KnownBugId, detail: string): void {
    if (KNOWN_BUGS[bug].fixed) {
      this.fail(`REGRESSION of fixed bug ${bug}: ${detail.slice(0, 300)}`);
      return;
    }
    this.count(`knownBug.${bug}`);
    this.count('knownBugViolations');
    const n = this.counters[`knownBug.${bug}`]!;
    if (n <= 3) this.knownBugs.push(`${bug}: ${detail.slice(0, 300)}`);
    else if (n === 4) this.knownBugs.push(`${bug}: … (further violations counted only)`);
  }

  check(ok: boolean, what: string): boolean {
    if (!ok) this.fail(what);
    return ok;
  }

  note(line: string): void {
    this.notes.push(line);
  }

  skip(why: string): void {
    this.skipped.push(why);
  }

  get failed(): number {
    return this.failureCount;
  }

  result(): PartResult {
    const { lost, duplicated, corrupted } = this.integrity;
    return {
      part: this.part,
      ok: this.failureCount === 0 && lost + duplicated + corrupted === 0,
      skipped: this.skipped,
      durationMs: Math.round(performance.now() - this.started),
      counters: this.counters,
      integrity: { ...this.integrity },
      failures: this.failures,
      knownBugs: this.knownBugs,
      notes: this.notes,
      ...(this.latency ? { latency: this.latency } : {}),
    };
  }
}
