/**
 * One writer process of the many-writers workload. Opens a store, prints "ready", waits for "go" on
 * stdin, appends `count` messages tagged {w, i} in metadata, then prints one JSON line with its timings
 * and its peak RSS.
 *
 *   node --import tsx bench/writer.ts --dir D --session ID --count N --durability full|process --writer W
 */
import { createInterface } from 'node:readline';
import { openStore } from '../src/store.js';
import { message } from './lib/fixtures.js';

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (v === undefined) throw new Error(`missing --${name}`);
  return v;
}

async function main(): Promise<void> {
  const dir = arg('dir');
  const session = arg('session');
  const count = Number(arg('count'));
  const durability = arg('durability') as 'full' | 'process';
  const w = Number(arg('writer'));
  const store = openStore({ dir, durability });
  await store.getSessionInfo(session); // load modules, open the log, fold it
  const lines = createInterface({ input: process.stdin });
  const go = new Promise<void>((resolve) => lines.once('line', () => resolve()));
  process.stdout.write('ready\n');
  await go;
  lines.close();
  const latencies: number[] = [];
  const acked: number[] = [];
  const errors: string[] = [];
  const start = performance.timeOrigin + performance.now();
  for (let i = 0; i < count; i++) {
    const m = message(i, { metadata: { w, i } });
    const t0 = performance.now();
    try {
      await store.addMessage(session, m);
      latencies.push(performance.now() - t0);
      acked.push(i);
    } catch (err) {
      errors.push(`${i}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    }
  }
  const end = performance.timeOrigin + performance.now();
  await store.close();
  const maxRss = process.resourceUsage().maxRSS * 1024; // maxRSS is in KiB
  process.stdout.write(JSON.stringify({ w, session, start, end, acked, errors, latencies, maxRss }) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`writer failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
