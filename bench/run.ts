/**
 * The benchmark suite: `npm run bench [-- --quick] [-- --only <workload>[,<workload>…]]`.
 *
 * Each workload runs in a child process of its own (bench/child.ts) with a fresh temp dir, and reports
 * tables, ratio targets and integrity checks. Absolute times on a shared 2-core machine are context;
 * the results are ratios against a baseline measured in the same run. The summary is printed and
 * written to bench/results/latest.json. Exit status: 1 on lost/duplicate writes or a crashed workload
 * (with --strict: also on any FAIL target), else 0.
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderResult, renderSummary } from './lib/report.js';
import type { BenchConfig, WorkloadResult } from './lib/types.js';
import { ALIASES, WORKLOADS } from './workloads/index.js';
import { benchTmpDir } from './lib/tmpdir.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

const USAGE = `usage: npm run bench -- [--quick] [--only <name>[,<name>…]] [--strict] [--pg-url URL] [--list]

  --quick        smaller sizes (100/2 000/10 000 messages, 1 000/5 000 sessions): a smoke run, < 2 min
  --only NAMES   run only these workloads (repeatable, comma-separated): ${WORKLOADS.map((w) => w.name).join(', ')}
  --strict       exit 1 when any target FAILs (default: only lost/duplicate writes or a crash exit 1)
  --pg-url URL   PostgreSQL for the postgres workload (default $THREADLOOM_PG_URL, else postgres://postgres@127.0.0.1:5432/test)
  --list         list the workloads and exit`;

interface Args {
  quick: boolean;
  only: string[];
  strict: boolean;
  pgUrl: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    quick: false,
    only: [],
    strict: false,
    pgUrl: process.env.THREADLOOM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') args.quick = true;
    else if (a === '--strict') args.strict = true;
    else if (a === '--only' || a.startsWith('--only=')) args.only.push(...value().split(',').filter(Boolean));
    else if (a === '--pg-url' || a.startsWith('--pg-url=')) args.pgUrl = value();
    else if (a === '--list') {
      for (const w of WORKLOADS) console.log(`${w.name.padEnd(10)} ${w.title}`);
      process.exit(0);
    } else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown argument ${a}`);
  }
  args.only = args.only.map((n) => {
    const name = ALIASES[n] ?? n;
    if (!WORKLOADS.some((w) => w.name === name)) fail(`unknown workload ${JSON.stringify(n)}`);
    return name;
  });
  return args;
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
  const config: BenchConfig = { quick: args.quick, root, pgUrl: args.pgUrl };
  const selected = args.only.length > 0 ? WORKLOADS.filter((w) => args.only.includes(w.name)) : WORKLOADS;
  const started = new Date();
  const t0 = performance.now();
  console.log(
    `threadloom bench — ${args.quick ? 'quick' : 'full'} run, ${selected.map((w) => w.name).join(', ')}\n` +
      `node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
      `temp dirs in ${benchTmpDir()}\nAbsolute times are context on a noisy machine; the ratios (same-run baselines) are the result.\n`,
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
  console.log(`\n  total ${totalS.toFixed(0)} s`);

  const targets = results.flatMap((r) => r.targets);
  const integrityErrors = results.flatMap((r) => r.integrityErrors.map((e) => `${r.name}: ${e}`));
  const doc = {
    startedAt: started.toISOString(),
    mode: args.quick ? 'quick' : 'full',
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
    results: results.map((r) => ({ name: r.name, title: r.title, elapsedSeconds: +(r.elapsedMs / 1000).toFixed(1), skipped: r.skipped, notes: r.notes, tables: r.tables, data: r.data })),
  };
  const outDir = path.join(here, 'results');
  fs.mkdirSync(outDir, { recursive: true });
  const outFile = path.join(outDir, 'latest.json');
  fs.writeFileSync(outFile, JSON.stringify(doc, null, 2) + '\n');
  console.log(`  results written to ${path.relative(process.cwd(), outFile)}`);
  if (integrityErrors.length > 0) process.exitCode = 1;
  else if (args.strict && targets.some((t) => !t.pass)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
