/**
 * Runs one workload in a process of its own (a clean heap, its own RSS) and sends the result to the
 * runner over IPC. Usage (by bench/run.ts): node --import tsx --expose-gc bench/child.ts <name> <config-json>
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchConfig, WorkloadResult } from './lib/types.js';
import { WORKLOADS } from './workloads/index.js';
import { benchTmpDir } from './lib/tmpdir.js';

async function main(): Promise<void> {
  const [name, configJson] = process.argv.slice(2);
  const entry = WORKLOADS.find((w) => w.name === name);
  if (!entry || !configJson) throw new Error(`usage: child.ts <workload> <config-json> (workloads: ${WORKLOADS.map((w) => w.name).join(', ')})`);
  const config = JSON.parse(configJson) as BenchConfig;
  const tmpDir = fs.mkdtempSync(path.join(benchTmpDir(), `threadloom-bench-${name}-`));
  const started = performance.now();
  const out: WorkloadResult = {
    name: entry.name,
    title: entry.title,
    elapsedMs: 0,
    tables: [],
    targets: [],
    notes: [],
    integrityErrors: [],
    data: {},
  };
  const log = (m: string) => process.stderr.write(`  [${name} ${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s] ${m}\n`);
  try {
    const workload = await entry.load();
    await workload.run({ config, log, tmpDir }, out);
  } finally {
    out.elapsedMs = performance.now() - started;
    out.peakRssBytes = process.resourceUsage().maxRSS * 1024; // maxRSS is in KiB
    const t = performance.now();
    fs.rmSync(tmpDir, { recursive: true, force: true });
    const rmS = (performance.now() - t) / 1000;
    if (rmS > 2) log(`removed ${tmpDir} in ${rmS.toFixed(1)} s`);
  }
  await new Promise<void>((resolve, reject) => process.send!(out, (err: Error | null) => (err ? reject(err) : resolve())));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`workload failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
