/**
 * A smoke run of the benchmark suite (`npm run bench -- --smoke`: tiny sizes, a few iterations), so the
 * benchmark does not rot: every workload must run and report, and the many-writers workload must lose
 * and duplicate nothing. This is not a benchmark: there is no assertion on any time or ratio.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WORKLOADS } from '../bench/workloads/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TIMEOUT_MS = 5 * 60_000;

// Under bench/results/tmp (git-ignored), like the benchmark's own temp dirs: this machine's /tmp makes
// creating and removing files much slower.
mkdirSync(join(ROOT, 'bench', 'results', 'tmp'), { recursive: true });
const work = mkdtempSync(join(ROOT, 'bench', 'results', 'tmp', 'bench-smoke-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

interface ResultsJson {
  mode: string;
  seed: number;
  machine: { cpus: number; node: string };
  summary: { integrityErrors: string[]; skipped: Array<{ workload: string; reason: string }> };
  results: Array<{
    name: string;
    skipped?: string;
    peakRssBytes?: number;
    tables: Array<{ rows: unknown[][] }>;
    data: Record<string, unknown>;
  }>;
  targets: Array<{ workload: string; name: string; measured: number }>;
}

function runBench(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], { cwd: ROOT, env, timeout: TIMEOUT_MS });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

test('npm run bench -- --smoke: every workload runs, no write is lost or duplicated', { timeout: TIMEOUT_MS + 30_000 }, async () => {
  const out = join(work, 'results.json');
  const env: NodeJS.ProcessEnv = { ...process.env, THREADLOOM_BENCH_DIR: join(work, 'stores') };
  delete env.NODE_TEST_CONTEXT; // keep the children from talking the test runner's protocol
  const run = await runBench(['--smoke', '--out', out], env);
  const tail = `\n--- stdout (tail)\n${run.stdout.slice(-4000)}\n--- stderr (tail)\n${run.stderr.slice(-4000)}`;
  assert.equal(run.code, 0, `the smoke run exited with ${run.code ?? run.signal}${tail}`);
  assert.ok(existsSync(out), `no results file at ${out}${tail}`);
  const doc = JSON.parse(readFileSync(out, 'utf8')) as ResultsJson;

  assert.equal(doc.mode, 'smoke');
  assert.equal(typeof doc.seed, 'number');
  assert.ok(doc.machine.cpus > 0 && doc.machine.node === process.version, 'the machine block names the CPU count and Node version');
  assert.deepEqual(doc.summary.integrityErrors, [], 'no integrity errors');

  const requireServices = process.env.THREADLOOM_REQUIRE_SERVICES === '1';
  for (const w of WORKLOADS) {
    const r = doc.results.find((x) => x.name === w.name);
    assert.ok(r, `workload ${w.name} produced no result`);
    if (r.skipped !== undefined) {
      assert.ok(!requireServices, `workload ${w.name} was skipped with THREADLOOM_REQUIRE_SERVICES=1: ${r.skipped}`);
      assert.equal(w.name, 'postgres', `only the postgres workload may be skipped; ${w.name}: ${r.skipped}`);
      continue;
    }
    assert.ok(r.tables.length > 0, `workload ${w.name} reported no table`);
    assert.ok(Number.isSafeInteger(r.peakRssBytes) && r.peakRssBytes! > 0, `workload ${w.name} reported no peak RSS`);
    for (const t of r.tables) assert.ok(t.rows.length > 0, `workload ${w.name} reported an empty table`);
  }

  const writers = doc.results.find((x) => x.name === 'writers')!;
  const layouts = Object.entries(writers.data) as Array<[string, { lost: number; duplicated: number; total: number; expectedTotal: number }]>;
  assert.ok(layouts.length > 0, 'the writers workload reported its layouts');
  for (const [layout, d] of layouts) {
    assert.equal(d.lost, 0, `${layout}: lost appends`);
    assert.equal(d.duplicated, 0, `${layout}: duplicated appends`);
    assert.equal(d.total, d.expectedTotal, `${layout}: every append acknowledged`);
  }
  const lostOrDup = doc.targets.find((t) => t.workload === 'writers');
  assert.equal(lostOrDup?.measured, 0, 'writers: 0 lost + duplicated');
});
