/**
 * The benchmark suite: `npm run bench [-- --full | --smoke] [-- --only <workload>[,<workload>…]]`.
 *
 * Each workload runs in a child process of its own (bench/child.ts) with a fresh temp dir, and reports
 * tables, ratio targets and integrity checks. Absolute times on a shared 2-core machine are context;
 * the results are ratios against a baseline measured in the same run. The summary is printed and
 * written to bench/results/<YYYY-MM-DD>.json (see resultsFile). Exit status: 1 on lost/duplicate writes
 * or a crashed workload (with --strict: also on any FAIL target), else 0.
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderResult, renderSummary } from './lib/report.js';
import { DEFAULT_SEED, type BenchConfig, type BenchMode, type WorkloadResult } from './lib/types.js';
import { ALIASES, WORKLOADS } from './workloads/index.js';
import { benchTmpDir } from './lib/tmpdir.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

const USAGE = `usage: npm run bench -- [--quick | --full | --smoke] [--only <name>[,<name>…]] [--strict] [--seed N]
                        [--pg-url URL] [--out FILE] [--list]

  --quick        the default: 100/10 000/100 000-message sessions, listing over 1 000/10 000 sessions (< 3 min on 2 cores)
  --full         the large sizes: listing (file and PostgreSQL) and the memory probe over 100 000 sessions, more repetitions
  --smoke        tiny sizes, a few iterations (< 1 min): checks that every workload runs; its figures and targets mean nothing
  --only NAMES   run only these workloads (repeatable, comma-separated): ${WORKLOADS.map((w) => w.name).join(', ')}
  --strict       exit 1 when any target FAILs (default: only lost/duplicate writes or a crash exit 1)
  --seed N       seed of every random choice the workloads make (default ${DEFAULT_SEED}; recorded in the JSON)
  --pg-url URL   PostgreSQL for the postgres workload (default $THREADLOOM_PG_URL, else postgres://postgres@127.0.0.1:5432/test)
  --out FILE     write the results JSON there (default bench/results/<UTC date>.json; <date>-smoke.json for
                 --smoke, <date>-<names>.json with --only)
  --list         list the workloads and exit`;

interface Args {
  mode: BenchMode;
  only: string[];
  strict: boolean;
  pgUrl: string;
  seed: number;
  out: string | null;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    mode: 'quick',
    only: [],
    strict: false,
    pgUrl: process.env.THREADLOOM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    seed: DEFAULT_SEED,
    out: null,
  };
  const modes = new Set<BenchMode>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === '--quick' || a === '--full' || a === '--smoke') {
      args.mode = a.slice(2) as BenchMode;
      modes.add(args.mode);
    } else if (a === '--strict') args.strict = true;
    else if (a === '--only' || a.startsWith('--only=')) args.only.push(...value().split(',').filter(Boolean));
    else if (a === '--pg-url' || a.startsWith('--pg-url=')) args.pgUrl = value();
    else if (a === '--seed' || a.startsWith('--seed=')) {
      const v = value();
      args.seed = Number(v);
      if (!/^\d+$/.test(v) || !Number.isSafeInteger(args.seed) || args.seed > 0xffffffff) fail(`--seed must be an integer from 0 to ${0xffffffff}, not ${JSON.stringify(v)}`);
    } else if (a === '--out' || a.startsWith('--out=')) args.out = path.resolve(value());
    else if (a === '--list') {
      for (const w of WORKLOADS) console.log(`${w.name.padEnd(10)} ${w.title}`);
      process.exit(0);
    } else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown argument ${a}`);
  }
  if (modes.size > 1) fail(`choose one of ${[...modes].map((m) => `--${m}`).join(', ')}`);
  args.only = args.only.map((n) => {
    const name = ALIASES[n] ?? n;
    if (!WORKLOADS.some((w) => w.name === name)) fail(`unknown workload ${JSON.stringify(n)}`);
    return name;
  });
  args.only = [...new Set(args.only)];
  return args;
}

/**
 * Where the results JSON goes unless --out says otherwise: bench/results/<UTC date of the start>.json
 * for a quick or full run of every workload, with `-smoke` and/or `-<workload>+<workload>` appended for a
 * smoke run or an --only run, so neither replaces the day's complete figures. A later run of the same
 * kind on the same day overwrites the file (its `mode` field says which mode produced it).
 */
function resultsFile(started: Date, mode: BenchMode, only: string[]): string {
  const name = [started.toISOString().slice(0, 10), ...(mode === 'smoke' ? ['smoke'] : []), ...(only.length > 0 ? [only.join('+')] : [])].join('-');
  return path.join(here, 'results', `${name}.json`);
}

function fail(message: string): never {
  console.error(`bench: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function runChild(name: string, title: string, config: BenchConfig): Promise<WorkloadResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    let result: WorkloadResult | null = null;
    const child = fork(path.join(here, 'child.ts'), [name, JSON.stringify(config)], {
      cwd: root,
      execArgv: ['--import', 'tsx', '--expose-gc', '--max-old-space-size=8192'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (m) => (result = m as WorkloadResult));
    child.on('exit', (code, signal) => {
      if (result && code === 0) return resolve(result);
      resolve({
        name,
        title,
        elapsedMs: performance.now() - started,
        tables: [],
        targets: [],
        notes: [],
        integrityErrors: [`the workload process failed (exit ${code ?? signal}); see its output above`],
        data: {},
      });
    });
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const config: BenchConfig = { mode: args.mode, seed: args.seed, root, pgUrl: args.pgUrl };
  const selected = args.only.length > 0 ? WORKLOADS.filter((w) => args.only.includes(w.name)) : WORKLOADS;
  const started = new Date();
  const t0 = performance.now();
  const smoke = args.mode === 'smoke';
  const smokeNote = 'tiny sizes and a few iterations, to check that every workload runs; its figures and targets mean nothing';
  console.log(
    `threadloom bench — ${args.mode} run, seed ${args.seed}, ${selected.map((w) => w.name).join(', ')}\n` +
      `node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
      `temp dirs in ${benchTmpDir()}\n` +
      (smoke ? `SMOKE RUN: ${smokeNote}.\n` : 'Absolute times are context on a noisy machine; the ratios (same-run baselines) are the result.\n'),
  );
  const results: WorkloadResult[] = [];
  for (const w of selected) {
    console.log(`-- running ${w.name}: ${w.title}`);
    const r = await runChild(w.name, w.title, config);
    results.push(r);
    console.log(`\n${renderResult(r)}\n`);
  }
  const totalS = (performance.now() - t0) / 1000;
  console.log(renderSummary(results));
  if (smoke) console.log(`  (smoke run: ${smokeNote})`);
  console.log(`\n  total ${totalS.toFixed(0)} s (${args.mode} run)`);

  const targets = results.flatMap((r) => r.targets);
  const integrityErrors = results.flatMap((r) => r.integrityErrors.map((e) => `${r.name}: ${e}`));
  const doc = {
    startedAt: started.toISOString(),
    mode: args.mode,
    ...(smoke ? { note: `smoke run: ${smokeNote}` } : {}),
    seed: args.seed,
    workloads: selected.map((w) => w.name),
    machine: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model.trim(), memGiB: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()} ${os.release()}` },
    totalSeconds: Math.round(totalS),
    summary: {
      targets: targets.length,
      passed: targets.filter((t) => t.pass).length,
      failed: targets.filter((t) => !t.pass).map((t) => `${t.workload}: ${t.name}`),
      integrityErrors,
      skipped: results.filter((r) => r.skipped).map((r) => ({ workload: r.name, reason: r.skipped })),
    },
    targets,
    results: results.map((r) => ({ name: r.name, title: r.title, elapsedSeconds: +(r.elapsedMs / 1000).toFixed(1), peakRssBytes: r.peakRssBytes, skipped: r.skipped, notes: r.notes, tables: r.tables, data: r.data })),
  };
  const outFile = args.out ?? resultsFile(started, args.mode, args.only.length > 0 ? selected.map((w) => w.name) : []);
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, JSON.stringify(doc, null, 2) + '\n');
  console.log(`  results written to ${path.relative(process.cwd(), outFile)}`);
  if (integrityErrors.length > 0) process.exitCode = 1;
  else if (args.strict && targets.some((t) => !t.pass)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
