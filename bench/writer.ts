/**
 * One writer process of the many-writers workload. Opens a store, prints "ready", waits for "go" on
 * stdin, appends `count` messages tagged {w, i} in metadata, then prints one JSON line with its timings
 * and its peak RSS.
 *
 *   node --import tsx bench/writer.ts --dir D --durability full|process --session ID --count N --writer W
 *   THREADLOOM_PG_URL=URL node --import tsx bench/writer.ts --schema S --session ID --count N --writer W
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

function pgUrlFromEnv(): string {
  const url = process.env.THREADLOOM_PG_URL;
  if (!url) throw new Error('--schema needs THREADLOOM_PG_URL');
  return url;
}

async function main(): Promise<void> {
  const session = arg('session');
  const count = Number(arg('count'));
  const w = Number(arg('writer'));
  // A file store (--dir, --durability) or a PostgreSQL one (--schema, the URL from THREADLOOM_PG_URL: not
  // on the command line, where any user's `ps` would show a password in it).
  const store = process.argv.includes('--schema')
    ? openStore({ url: pgUrlFromEnv(), schema: arg('schema') })
    : openStore({ dir: arg('dir'), durability: arg('durability') as 'full' | 'process' });
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
