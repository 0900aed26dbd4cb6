/**
 * The chaos campaign's quick variant (`npm run chaos -- --quick`), one test per part, inside
 * `npm test`. Each part must report 0 lost, 0 duplicated, 0 corrupted items and no other invariant
 * violation. Violations explained by an open bug (chaos/known-bugs.ts) are reported as diagnostics:
 * their reproductions are the todo tests of test/chaos-bugs.test.ts. The full campaign is
 * `npm run chaos` (see RELIABILITY.md).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PARTS } from '../chaos/run.js';
import type { ChaosConfig, PartResult } from '../chaos/lib/types.js';
import { cleanupTempDirs } from '../chaos/lib/util.js';

const config: ChaosConfig = {
  quick: true,
  soakSeconds: 5,
  pgUrl: process.env.THREADLOOM_PG_URL || 'postgres://postgres@127.0.0.1:5432/test',
  requireServices: process.env.THREADLOOM_REQUIRE_SERVICES === '1',
  seed: Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31)),
  log: () => undefined,
};

function verdict(r: PartResult, t: { diagnostic(message: string): void }): void {
  for (const [k, v] of Object.entries(r.counters)) t.diagnostic(`${r.part}: ${k}=${v}`);
  for (const s of r.skipped) t.diagnostic(`${r.part}: skipped: ${s}`);
  for (const k of r.knownBugs) t.diagnostic(`${r.part}: open bug: ${k}`);
  assert.deepEqual(r.integrity, { lost: 0, duplicated: 0, corrupted: 0 }, `${r.part} (seed ${config.seed}):\n${r.failures.join('\n')}`);
  assert.deepEqual(r.failures, [], `${r.part} (seed ${config.seed})`);
  assert.ok(r.ok);
}

describe(`chaos campaign, quick (seed ${config.seed})`, () => {
  const cases: Array<[string, string]> = [
    ['crashes', 'kill -9 of mixed writers (~20 file, ~8 PostgreSQL): every acknowledged write once, batches whole, gap-free seq, no stale lock, doctor healthy'],
    ['power-loss', 'logs cut at every byte of their last events and NUL tails: complete events served, next append works, cut bytes quarantined exactly'],
    ['faults', 'ENOSPC/EIO/EACCES/EMFILE on each write-path call, lock contention, clock going back, pg_terminate_backend: typed errors, nothing partial, retries land once'],
    ['soak', '8 processes for 5 s: counts equal acknowledged writes, fork prefixes, snapshot reverts, p99 per operation'],
    ['hostile', 'property-based hostile ids, message shapes, operation sequences vs a model, log reader fuzz'],
    ['secrets', 'symlinked logs not followed, 0700/0600, share tokens >= 128 bits, distinct, revocable, never leaked; PostgreSQL errors without passwords'],
  ];
  for (const [part, title] of cases) {
    it(`${part}: ${title}`, { timeout: 120_000 }, async (t) => {
      try {
        verdict(await PARTS[part]!(config), t);
      } finally {
        cleanupTempDirs();
      }
    });
  }
});
