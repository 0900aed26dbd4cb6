/**
 * Part 4, soak: 8 writer processes for `--soak-seconds` (default 60) on many shared sessions, a mix of
 * reads, appends, batches, forks, snapshots, reverts and unreverts. Then every invariant: the stored
 * messages are exactly the acknowledged ones, seq is gap-free, every fork's inherited prefix equals its
 * parent's visible history at the fork point (the parent's raw events folded up to forkedFrom.seq),
 * every snapshot revert restores exactly what the snapshot captured, and cold reads equal the model.
 * Reports ops/s and p50/p99 latency per operation kind.
 */
import { openStore } from '../../src/index.js';
import { Ledger, checkLogs, checkSuspects, checkThroughApi, firstDifference, type LogView } from '../lib/ledger.js';
import { foldModel, readAllRawLogs, resolvePrefix, type RawEvent } from '../lib/rawlog.js';
import { Recorder } from '../lib/recorder.js';
import { startTogether } from '../lib/spawn.js';
import type { ChaosConfig, LatencySummary, PartResult } from '../lib/types.js';
import { contentFor, describeError, percentile, round2, tempDir } from '../lib/util.js';

const PROCESSES = 8;

export async function soak(config: ChaosConfig): Promise<PartResult> {
  const rec = new Recorder('soak');
  const dir = tempDir('soak');
  const roots = Array.from({ length: config.quick ? 10 : 32 }, (_, i) => `r${i}`);
  const ledger = new Ledger();
  const setup = openStore({ dir });
  for (const s of roots) {
    await setup.createSession({ id: s, title: s });
    const ids = [`seed-${s}.0.0.2`, `seed-${s}.0.1.2`];
    await setup.addMessages(s, ids.map((id) => ({ id, role: 'user' as const, content: contentFor(id) })));
    for (const id of ids) ledger.messages.set(id, s);
  }
  await setup.close();
  config.log(`  soak: ${PROCESSES} processes for ${config.soakSeconds} s on ${roots.length} sessions`);
  const workers = await startTogether(
    { kind: 'file', dir },
    Array.from({ length: PROCESSES }, (_, i) => ({ kind: 'soak' as const, writer: `w${i}`, sessions: roots, seconds: config.soakSeconds, seed: config.seed + 1000 + i })),
  );
  const t0 = performance.now();
  const results = await Promise.all(workers.map((w) => w.done));
  const elapsed = (performance.now() - t0) / 1000;
  const latencies: Record<string, number[]> = {};
  const suspects: Array<{ s: string; message: string }> = [];
  for (const [i, w] of workers.entries()) {
    const r = results[i]!;
    if (r.code !== 0) rec.fail(`soak worker ${i} failed: ${r.stderr.trim().split('\n').slice(0, 4).join(' | ')}`);
    for (const l of w.lines) {
      ledger.absorb(l);
      if (l.suspect) suspects.push(l.suspect as { s: string; message: string });
      if (l.stats) {
        for (const [k, v] of Object.entries(l.stats as Record<string, number[]>)) (latencies[k] ??= []).push(...v);
        for (const v of l.violations as string[]) rec.corrupted(`soak read: ${v}`);
      }
    }
  }
  const summary: Record<string, LatencySummary> = {};
  let totalOps = 0;
  for (const [k, v] of Object.entries(latencies).sort()) {
    if (k.endsWith('.raced')) {
      rec.count(`racedCalls.${k.slice(0, -'.raced'.length)}`, v.length);
      continue;
    }
    v.sort((a, b) => a - b);
    totalOps += v.length;
    summary[k] = { count: v.length, opsPerSec: round2(v.length / elapsed), p50Ms: round2(percentile(v, 50)), p99Ms: round2(percentile(v, 99)), maxMs: round2(v[v.length - 1] ?? 0) };
  }
  const everything = Object.entries(latencies).filter(([k]) => !k.endsWith('.raced')).flatMap(([, v]) => v).sort((a, b) => a - b);
  summary.all = {
    count: totalOps,
    opsPerSec: round2(totalOps / elapsed),
    p50Ms: round2(percentile(everything, 50)),
    p99Ms: round2(percentile(everything, 99)),
    maxMs: round2(everything[everything.length - 1] ?? 0),
  };
  rec.latency = summary;
  rec.count('operations', totalOps);

  // Invariants, from the raw logs (an independent reader) and through the API (a fresh handle).
  const raw = readAllRawLogs(dir);
  const views = new Map<string, LogView>();
  for (const [s, l] of raw) {
    views.set(s, { events: l.events, problems: l.problems, tailBytes: l.tail.length });
    if (l.tail.length > 0) rec.corrupted(`soak: ${s} has a torn tail although no writer crashed`);
  }
  const verified = checkLogs(views, ledger, rec, 'soak');
  rec.count('ackedWritesVerified', verified);
  let stored = 0;
  for (const l of raw.values()) stored += l.events.filter((e) => e.type === 'message.added').length;
  if (stored !== ledger.messages.size) rec.corrupted(`soak: ${stored} messages stored, ${ledger.messages.size} acknowledged`);
  rec.count('messagesStored', stored);
  const events = new Map<string, RawEvent[]>();
  for (const [s, l] of raw) events.set(s, l.events);
  const fresh = openStore({ dir });
  try {
    await checkSuspects(suspects, views, () => openStore({ dir }), rec, 'soak');
    await checkThroughApi(fresh, views, ledger, rec, 'soak', () => openStore({ dir }));
    await checkForks(rec, ledger, events, () => openStore({ dir }));
    await checkSnapshots(rec, events, dir);
  } finally {
    await fresh.close();
  }
  config.log(`  soak: ${totalOps} operations (${summary.all.opsPerSec} ops/s), ${verified} acknowledged writes verified, ${ledger.forks.length} forks, ${ledger.snapshots.length} snapshots`);
  return rec.result();
}

/** Every fork's inherited messages equal its parent's visible history at the fork point, as it was then. */
async function checkForks(rec: Recorder, ledger: Ledger, events: ReadonlyMap<string, RawEvent[]>, open: () => ReturnType<typeof openStore>): Promise<void> {
  for (const f of ledger.forks) {
    const created = events.get(f.child)?.[0];
    const forkedFrom = (created?.session as { forkedFrom?: { seq: number } } | undefined)?.forkedFrom;
    if (!forkedFrom) {
      rec.lost(`soak: fork ${f.child} has no log or no fork point`);
      continue;
    }
    let expected: string[];
    try {
      expected = resolvePrefix(f.child, events).map((m) => m.id);
    } catch (err) {
      rec.corrupted(`soak: fork ${f.child}: ${(err as Error).message}`);
      continue;
    }
    // What the forking worker saw right after the fork (its own visible messages then, all inherited).
    if (f.prefixIds) {
      const d = firstDifference(f.prefixIds, expected);
      if (d) rec.corrupted(`soak: fork ${f.child}: right after forking it showed ${d}`);
    }
    // A handle that reads only this fork (the shared-handle cache bug is checked in checkThroughApi).
    const store = open();
    try {
      const inherited = (await store.getMessages(f.child, { includeReverted: true })).filter((m) => m.seq <= forkedFrom.seq).map((m) => m.id);
      const d = firstDifference(inherited, expected);
      if (d) rec.corrupted(`soak: fork ${f.child}: its inherited prefix differs from ${f.s} folded up to seq ${forkedFrom.seq}: ${d}`);
      rec.count('forksVerified');
    } catch (err) {
      rec.fail(`soak: reading fork ${f.child}: ${describeError(err)}`);
    } finally {
      await store.close();
    }
  }
}

/** Reverting to each snapshot shows exactly what it captured; unrevert then restores the session. */
async function checkSnapshots(rec: Recorder, events: ReadonlyMap<string, RawEvent[]>, dir: string): Promise<void> {
  for (const [s, ev] of events) {
    const model = foldModel(ev, resolvePrefix(s, events));
    if (model.snapshots.length === 0) continue;
    // One handle per session, so the fork-prefix cache bug (checked in checkThroughApi) cannot interfere.
    const store = openStore({ dir });
    try {
      // Reverts while a revert is pending stack on it: unrevert brings back the view before the first.
      const before = (model.revert ? model.revert.restore : model.visible).map((m) => m.id);
      for (const snap of model.snapshots) {
        await store.revertToSnapshot(s, snap.id);
        const shown = (await store.getMessages(s)).map((m) => m.id);
        const d = firstDifference(shown, snap.messages.map((m) => m.id));
        if (d) rec.corrupted(`soak: ${s}: revert to snapshot ${snap.id} (seq ${snap.seq}) shows ${d}`);
        rec.count('snapshotRevertsVerified');
      }
      await store.unrevert(s);
      const after = (await store.getMessages(s)).map((m) => m.id);
      const d = firstDifference(after, before);
      if (d) rec.corrupted(`soak: ${s}: unrevert after the snapshot checks did not restore the view: ${d}`);
    } catch (err) {
      rec.fail(`soak: snapshot checks of ${s}: ${describeError(err)}`);
    } finally {
      await store.close();
    }
  }
}
