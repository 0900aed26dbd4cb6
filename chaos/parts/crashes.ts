/**
 * Part 1, crashes: writer processes doing a random mix of writes are killed with SIGKILL at random
 * moments, hundreds of times. After every kill: the store opens, every acknowledged write is stored
 * exactly once, batches are whole, seq is gap-free (raw JSON lines / raw table rows), and the next
 * writer is not blocked by the dead writer's lock. Writes a killed writer had in flight are retried by
 * the next writer with the same ids. At the end `threadloom doctor` must report the store healthy or
 * exactly the torn tails it found and repaired. The same harness runs against PostgreSQL.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { nativeLocks } from '../../src/drivers/file/session-lock.js';
import { openStore, type SessionStore } from '../../src/index.js';
import { Ledger, checkLogs, checkSuspects, checkThroughApi, type LogView } from '../lib/ledger.js';
import { adminClient, dropSchema, freshSchema, rawPgLogs, requirePg } from '../lib/pg.js';
import { readAllRawLogs } from '../lib/rawlog.js';
import { Recorder } from '../lib/recorder.js';
import { ROOT, startWorker, type Line, type Worker } from '../lib/spawn.js';
import type { ChaosConfig, PartResult, Recipe } from '../lib/types.js';
import { Rng, contentFor, describeError, sleep, tempDir } from '../lib/util.js';

const run = promisify(execFile);
/** A dead writer's lock must not hold the next writer up for longer than this. */
const MAX_BLOCK_MS = 5_000;

interface Backend {
  name: 'file' | 'postgres';
  recipe(rng: Rng): Recipe;
  /** The parent's long-lived handle (a writer that outlives every worker). */
  store: SessionStore;
  openFresh(): SessionStore;
  logs(): Promise<Map<string, LogView>>;
  close(): Promise<void>;
}

export async function crashes(config: ChaosConfig): Promise<PartResult> {
  const rec = new Recorder('crashes');
  const rng = new Rng(config.seed ^ 0x1);
  await crashFile(config, rec, rng);
  if (await requirePg(config, rec, 'crashes (postgres)')) await crashPostgres(config, rec, rng);
  return rec.result();
}

async function crashFile(config: ChaosConfig, rec: Recorder, rng: Rng): Promise<void> {
  const dir = tempDir('crash');
  const backend: Backend = {
    name: 'file',
    recipe: (r) => ({ kind: 'file', dir, durability: r.chance(0.5) ? 'full' : 'process' }),
    store: openStore({ dir }),
    openFresh: () => openStore({ dir }),
    async logs() {
      const out = new Map<string, LogView>();
      for (const [s, l] of readAllRawLogs(dir)) out.set(s, { events: l.events, problems: l.problems, tailBytes: l.tail.length });
      return out;
    },
    close: async () => undefined,
  };
  const budget = config.quick ? { ms: 45_000, kills: 20 } : { ms: 240_000, kills: 600 };
  const ledger = await campaign(config, rec, rng, backend, budget);
  await backend.store.close();
  if (ledger) await doctorCheck(config, rec, dir, ledger);
}

async function crashPostgres(config: ChaosConfig, rec: Recorder, rng: Rng): Promise<void> {
  const schema = freshSchema('tl_chaos_crash');
  const admin = await adminClient(config.pgUrl);
  const backend: Backend = {
    name: 'postgres',
    recipe: () => ({ kind: 'url', url: config.pgUrl, schema }),
    store: openStore({ url: config.pgUrl, schema }),
    openFresh: () => openStore({ url: config.pgUrl, schema }),
    async logs() {
      const out = new Map<string, LogView>();
      for (const [s, events] of await rawPgLogs(admin, schema)) out.set(s, { events, problems: [], tailBytes: 0 });
      return out;
    },
    close: async () => undefined,
  };
  try {
    const budget = config.quick ? { ms: 25_000, kills: 8 } : { ms: 100_000, kills: 250 };
    await campaign(config, rec, rng, backend, budget);
  } finally {
    await backend.store.close();
    await dropSchema(admin, schema).catch(() => undefined);
    await admin.end();
  }
}

/** Runs the kill loop against one backend; returns the ledger (null when the set-up failed). */
async function campaign(
  config: ChaosConfig,
  rec: Recorder,
  rng: Rng,
  backend: Backend,
  budget: { ms: number; kills: number },
): Promise<Ledger | null> {
  const tag = backend.name;
  const ledger = new Ledger();
  const roots = ['c0', 'c1', 'c2', 'c3'];
  for (const s of roots) {
    await backend.store.createSession({ id: s, title: `crash root ${s}` });
    const ids = [`seed-${s}.0.0.2`, `seed-${s}.0.1.2`];
    await backend.store.addMessages(s, ids.map((id) => ({ id, role: 'user' as const, content: contentFor(id) })));
    for (const id of ids) ledger.messages.set(id, s);
  }
  const known = new Set(roots);
  const suspects: Array<{ s: string; message: string }> = [];
  let pending: Array<{ s: string; ids: string[] }> = [];
  let kills = 0;
  let writerNo = 0;
  let maxBlockMs = 0;
  let apiCheckDue = false;
  const deadline = performance.now() + budget.ms;
  // Warm spares: a worker's start-up (loading TypeScript) costs most of a second, so the next ones
  // start while the current ones write.
  const spares: Worker[] = [];
  const spawnSpare = () => {
    const w = writerNo++;
    spares.push(startWorker(backend.recipe(rng), { kind: 'mix', writer: `k${w}`, sessions: [], retry: [], seed: config.seed + w }, { waitForGo: true }));
  };
  for (let i = 0; i < 3; i++) spawnSpare();
  config.log(`  crashes/${tag}: killing writers for up to ${Math.round(budget.ms / 1000)} s or ${budget.kills} kills`);
  try {
    while (kills < budget.kills && performance.now() < deadline) {
      // One or two writers at once, on shared sessions; each is killed at its own random moment.
      const n = rng.chance(0.5) ? 2 : 1;
      const batch: Array<{ w: Worker; retry: Array<{ s: string; ids: string[] }> }> = [];
      for (let i = 0; i < n; i++) {
        const w = spares.shift()!;
        spawnSpare();
        await w.waitFor((l) => l.ready === true, 120_000);
        const retry = i === 0 ? pending : [];
        if (i === 0) pending = [];
        w.go({ sessions: [...known], retry });
        batch.push({ w, retry });
      }
      for (const { w, retry } of batch) {
        if (rng.chance(0.6)) {
          const target = rng.range(1, 40);
          const until = performance.now() + 20_000;
          while (countAcks(w.lines) < target && !w.exited && performance.now() < until) await sleep(2);
          await sleep(rng.int(6));
        } else {
          await sleep(rng.int(400));
        }
        if (w.exited) {
          const r = await w.done;
          rec.fail(`${tag}: writer ${w.pid} exited by itself (${r.code ?? r.signal}): ${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`);
        } else {
          await w.kill();
          kills++;
        }
        // What it acknowledged is in the ledger; what it had in flight goes to the next writer, same ids.
        let lastSession: string | null = null;
        const acked = new Set<string>();
        for (const l of w.lines) {
          ledger.absorb(l);
          if (l.suspect) suspects.push(l.suspect as { s: string; message: string });
          if (l.ack === 'fork') known.add(l.child as string);
          if (Array.isArray(l.ids) && l.ack) for (const id of l.ids as string[]) acked.add(id);
          const intent = l.intent as { s: string; ids: string[] } | undefined;
          if (intent) lastSession = intent.s;
        }
        const inFlight = [...retry, ...w.lines.map((l) => l.intent as { s: string; ids: string[] } | undefined).filter((x) => x !== undefined)];
        for (const it of inFlight) if (!it.ids.every((id) => acked.has(id))) pending.push({ s: it.s, ids: it.ids });
        // The next writer (the parent's own handle) must get the dead writer's lock quickly.
        const target = lastSession ?? rng.pick(roots);
        const id = `parent.${tag}${kills}.0.1`;
        const t0 = performance.now();
        try {
          await backend.store.addMessage(target, { id, role: 'assistant', content: contentFor(id) });
          ledger.messages.set(id, target);
        } catch (err) {
          if ((err as { code?: string }).code === 'CORRUPT_SESSION') suspects.push({ s: target, message: (err as Error).message });
          else rec.fail(`${tag}: the write after kill ${kills} failed: ${describeError(err)}`);
        }
        const waited = performance.now() - t0;
        maxBlockMs = Math.max(maxBlockMs, waited);
        if (waited > MAX_BLOCK_MS) rec.fail(`${tag}: the next writer was blocked ${Math.round(waited)} ms after kill ${kills}`);
        // The store opens, and everything acknowledged so far is there exactly once.
        const fresh = backend.openFresh();
        try {
          await fresh.listSessions({ limit: 10 });
          const logs = await backend.logs();
          checkLogs(logs, ledger, rec, `${tag} after kill ${kills}`);
          // Through the API too, every tenth kill, once no writer is alive (the raw read must not go stale).
          if (kills % 10 === 0) apiCheckDue = true;
          if (apiCheckDue && batch.every((b) => b.w.exited)) {
            apiCheckDue = false;
            await checkThroughApi(fresh, logs, ledger, rec, `${tag} after kill ${kills}`, backend.openFresh);
          }
        } catch (err) {
          rec.fail(`${tag}: the store did not open after kill ${kills}: ${describeError(err)}`);
        } finally {
          await fresh.close();
        }
        rec.count(`${tag}.checksAfterKill`);
      }
      if (kills > 0 && kills % 50 < n) config.log(`  crashes/${tag}: ${kills} kills, ${ledger.size} acknowledged writes so far`);
    }
  } finally {
    for (const w of spares) await w.kill();
  }
  // The writes still in flight at the last kill: retried with the same ids, stored exactly once.
  for (const p of pending) {
    // A fresh handle per retry: the long-lived one may hold the open fork-prefix-cache bug's bad prefix.
    const h = backend.openFresh();
    try {
      const stored = await h.addMessages(p.s, p.ids.map((id) => ({ id, role: 'user' as const, content: contentFor(id) })));
      if (stored.map((m) => m.id).join() !== p.ids.join()) rec.fail(`${tag}: retry of ${p.ids.join()} returned other messages`);
      for (const id of p.ids) ledger.messages.set(id, p.s);
      rec.count(`${tag}.inFlightRetried`, p.ids.length);
    } catch (err) {
      rec.fail(`${tag}: retrying the in-flight ${p.ids.join()} in ${p.s} failed: ${describeError(err)}`);
    } finally {
      await h.close();
    }
  }
  const logs = await backend.logs();
  await checkSuspects(suspects, logs, backend.openFresh, rec, tag);
  const verified = checkLogs(logs, ledger, rec, `${tag} final`);
  const fresh = backend.openFresh();
  try {
    await checkThroughApi(fresh, logs, ledger, rec, `${tag} final`, backend.openFresh);
  } finally {
    await fresh.close();
  }
  rec.count(`${tag}.kills`, kills);
  rec.count(`${tag}.ackedWritesVerified`, verified);
  rec.count(`${tag}.sessions`, logs.size);
  rec.counters[`${tag}.maxNextWriterWaitMs`] = Math.round(maxBlockMs);
  config.log(`  crashes/${tag}: ${kills} kills, ${verified} acknowledged writes verified, next writer waited at most ${Math.round(maxBlockMs)} ms`);
  return ledger;
}

function countAcks(lines: readonly Line[]): number {
  let n = 0;
  for (const l of lines) if (l.ack) n++;
  return n;
}

/**
 * `threadloom doctor --json` on the crashed store: healthy, or exactly the torn tails found in the raw
 * logs, repaired (the quarantined bytes are the torn bytes). Afterwards no torn tail and no lock is left.
 */
async function doctorCheck(config: ChaosConfig, rec: Recorder, dir: string, ledger: Ledger): Promise<void> {
  const before = readAllRawLogs(dir);
  const torn = new Map<string, Buffer>();
  for (const [s, l] of before) if (l.tail.length > 0) torn.set(s, Buffer.from(l.tail));
  let report: {
    ok: boolean;
    quarantined: number;
    problems: number;
    repaired: number;
    corruption: Array<{ sessionId: string; kind: string; quarantinedTo: string }>;
  };
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'doctor', '--dir', dir, '--json'], {
      cwd: ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
    report = JSON.parse(stdout) as typeof report;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    rec.fail(`doctor failed: ${describeError(err)} ${e.stdout?.slice(0, 500) ?? ''} ${e.stderr?.slice(0, 500) ?? ''}`);
    return;
  }
  rec.count('file.doctorTornTailsFound', torn.size);
  rec.check(report.ok === true && report.quarantined === 0 && report.problems === 0, `doctor did not report the store healthy: ${JSON.stringify({ ...report, sessions: undefined }).slice(0, 800)}`);
  const reported = new Map<string, string>();
  for (const c of report.corruption) {
    if (c.kind !== 'torn-tail') rec.corrupted(`doctor reported ${c.kind} for ${c.sessionId}`);
    else reported.set(c.sessionId, c.quarantinedTo);
  }
  for (const [s, bytes] of torn) {
    const to = reported.get(s);
    if (!to) rec.fail(`doctor did not report the torn tail (${bytes.length} bytes) of ${s}`);
    else if (!fs.readFileSync(to).equals(bytes)) rec.corrupted(`doctor quarantined other bytes than the torn tail of ${s}`);
  }
  for (const s of reported.keys()) if (!torn.has(s)) rec.fail(`doctor reported a torn tail in ${s}, which had none`);
  const after = readAllRawLogs(dir);
  for (const [s, l] of after) if (l.tail.length > 0) rec.fail(`torn tail left in ${s} after doctor`);
  // Lock files stay between appends (the lock itself is the kernel's, on the file's descriptor). With
  // every writer dead, none may still be held: each must be free to a new descriptor at once.
  for (const name of fs.readdirSync(path.join(dir, 'sessions')).filter((n) => n.endsWith('.lock'))) {
    const fd = fs.openSync(path.join(dir, 'sessions', name), fs.constants.O_RDWR | fs.constants.O_NOFOLLOW);
    try {
      if (!nativeLocks().tryLock(fd)) rec.fail(`lock file ${name} is still locked after every writer died`);
      else rec.count('file.lockFilesFreeAfterCrashes');
    } finally {
      fs.closeSync(fd);
    }
  }
  const views = new Map<string, LogView>();
  for (const [s, l] of after) views.set(s, { events: l.events, problems: l.problems, tailBytes: l.tail.length });
  checkLogs(views, ledger, rec, 'file after doctor');
  config.log(`  crashes/file: doctor ${report.ok ? 'healthy' : 'NOT healthy'}, ${torn.size} torn tail(s) found and ${reported.size} repaired`);
}
