/** Runs test/helpers/worker.ts as real OS processes and collects what they acknowledged. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { StoreRecipe } from '../conformance/harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

export interface WorkerRun {
  child: ChildProcess;
  /** Every acknowledged line so far (parsed). */
  acks: unknown[];
  /** Resolves with the exit code (null when killed) once the process is gone. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  go: () => void;
}

export function startWorker(recipe: StoreRecipe, job: object, options: { waitForGo?: boolean } = {}): WorkerRun {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(recipe), JSON.stringify(job)], {
    cwd: ROOT,
    env: { ...process.env, WORKER_WAIT_FOR_GO: options.waitForGo ? '1' : '0' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const acks: unknown[] = [];
  let buffered = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim()) acks.push(JSON.parse(line));
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  // end(), not write(): a worker whose stdin stays open (and read) never exits after its job.
  return { child, acks, done, go: () => child.stdin!.end('go\n') };
}

/** Starts all workers, waits until each is ready, releases them together, and waits for all to finish. */
export async function runWorkers(recipe: StoreRecipe, jobs: object[]): Promise<WorkerRun[]> {
  const runs = jobs.map((job) => startWorker(recipe, job, { waitForGo: true }));
  // tsx start-up dominates; a short settle lets every worker reach its stdin wait before "go".
  await new Promise((r) => setTimeout(r, 1500));
  for (const r of runs) r.go();
  const results = await Promise.all(runs.map((r) => r.done));
  for (const [i, res] of results.entries()) {
    if (res.code !== 0) throw new Error(`worker ${i} exited with ${res.code ?? res.signal}: ${res.stderr}`);
  }
  return runs;
}
