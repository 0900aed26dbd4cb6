/** Starts chaos/worker.ts as real OS processes and collects the JSON lines they print. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WorkerJob } from '../worker.js';
import type { Recipe } from './types.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WORKER = fileURLToPath(new URL('../worker.ts', import.meta.url));

export interface Line {
  [key: string]: unknown;
}

export interface Worker {
  child: ChildProcess;
  pid: number;
  lines: Line[];
  /** Resolves once the process is gone. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  exited: boolean;
  /** Releases a worker started with `waitForGo`, optionally completing its job (merged into it). */
  go(patch?: object): void;
  /** Resolves when a line satisfying `pred` arrived; rejects if the worker exits first or after `timeoutMs`. */
  waitFor(pred: (l: Line) => boolean, timeoutMs?: number): Promise<Line>;
  kill(): Promise<void>;
}

export function startWorker(recipe: Recipe, job: WorkerJob, options: { waitForGo?: boolean } = {}): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(recipe), JSON.stringify(job)], {
    cwd: ROOT,
    env: { ...process.env, CHAOS_WAIT_FOR_GO: options.waitForGo ? '1' : '0' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: Line[] = [];
  const waiters: Array<{ pred: (l: Line) => boolean; resolve: (l: Line) => void }> = [];
  let buffered = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!text.trim()) continue;
      let line: Line;
      try {
        line = JSON.parse(text) as Line;
      } catch {
        // A line cut by SIGKILL is never a whole ack: the ack is only printed after the write returned.
        continue;
      }
      lines.push(line);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.pred(line)) {
          waiters[i]!.resolve(line);
          waiters.splice(i, 1);
        }
      }
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr += chunk));
  child.stdin!.on('error', () => undefined);
  const w: Worker = {
    child,
    pid: child.pid ?? -1,
    lines,
    exited: false,
    done: new Promise((resolve) =>
      child.on('close', (code, signal) => {
        w.exited = true;
        resolve({ code, signal, stderr });
      }),
    ),
    go: (patch) => child.stdin!.end(patch ? `${JSON.stringify(patch)}\n` : '\n'),
    waitFor(pred, timeoutMs = 60_000) {
      const hit = lines.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise<Line>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`worker ${w.pid}: timed out waiting (${timeoutMs} ms); stderr: ${stderr.slice(-2000)}`)), timeoutMs);
        waiters.push({
          pred,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void w.done.then((r) => {
          clearTimeout(timer);
          reject(new Error(`worker ${w.pid} exited (${r.code ?? r.signal}) before the awaited line; stderr: ${r.stderr.slice(-2000)}`));
        });
      });
    },
    async kill() {
      if (!w.exited) child.kill('SIGKILL');
      await w.done;
    },
  };
  return w;
}

/** Starts `jobs` in waiting mode, waits until all are ready, then releases them together. */
export async function startTogether(recipe: Recipe, jobs: WorkerJob[]): Promise<Worker[]> {
  const ws = jobs.map((j) => startWorker(recipe, j, { waitForGo: true }));
  await Promise.all(ws.map((w) => w.waitFor((l) => l.ready === true, 120_000)));
  for (const w of ws) w.go();
  return ws;
}

