/**
 * PostgreSQL: append vs history length, append vs a bare single-row INSERT through the same `pg` pool,
 * a fresh read after an append made by another store (another pool, its own cache), batch append, cold
 * open and warm chat history, fork, 8 writer processes (verified through a fresh store and raw SQL),
 * and listing: the file workloads' measurements, on this driver.
 * Runs in a fresh schema that is dropped afterwards; skipped (one line saying why) when PostgreSQL or
 * the driver is not available.
 */
import { randomBytes } from 'node:crypto';
import { openStore, type SessionStore } from '../../src/store.js';
import { redactUrl } from '../../src/core/redact.js';
import { message, messages, SETUP_BATCH, sizeLabel } from '../lib/fixtures.js';
import { fmtMs, fmtRate, fmtRatio, rotate, summarize, type Summary } from '../lib/stats.js';
import { workloadRng } from '../lib/random.js';
import { bySize } from '../lib/scale.js';
import { target, type Workload, type WorkloadResult } from '../lib/types.js';
import { measureWriters, WRITER_COLUMNS, type WriterTarget } from '../lib/many-writers.js';
import { BATCH, BATCH_COLUMNS, measureBatch } from './batch.js';
import { sessionId } from './listing.js';

type PgModule = typeof import('pg');
type Pool = import('pg').Pool;

const CREATE_BUDGET_S = 120;

/** A pool wrapper that counts the statements sent through it (for "round trips per call"). */
function countingPool(pool: Pool, counter: { n: number }) {
  const wrapClient = <C extends object>(client: C): C =>
    new Proxy(client, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (prop === 'query') {
          return (...args: unknown[]) => {
            counter.n++;
            return (v as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  return {
    connect: async () => wrapClient(await pool.connect()),
    query: (text: string, values?: unknown[]) => {
      counter.n++;
      return pool.query(text, values);
    },
    end: async () => undefined,
  };
}
const CREATE_CONCURRENCY = 8;

async function loadPg(): Promise<PgModule | string> {
  try {
    const m = (await import('pg')) as unknown as { default?: PgModule } & PgModule;
    return m.default ?? m;
  } catch (err) {
    return `the 'pg' package cannot be loaded (${(err as Error).message})`;
  }
}

function skip(out: WorkloadResult, why: string, log: (m: string) => void): void {
  out.skipped = why;
  log(`PostgreSQL skipped: ${why}`);
}

async function buildPg(store: SessionStore, id: string, count: number): Promise<void> {
  await store.createSession({ id, title: `bench ${count}`, agentName: 'bench' });
  for (let done = 0; done < count; done += SETUP_BATCH) {
    await store.addMessages(id, messages(done, Math.min(SETUP_BATCH, count - done)));
  }
}

const workload: Workload = {
  name: 'postgres',
  title: 'PostgreSQL',
  async run(ctx, out) {
    const { pgUrl } = ctx.config;
    const rng = workloadRng(ctx.config, 'postgres');
    const where = redactUrl(pgUrl);
    const pg = await loadPg();
    if (typeof pg === 'string') return skip(out, pg, ctx.log);
    // Not seeded on purpose: two runs against one database (same seed) must not share a schema.
    const schema = `tl_bench_${randomBytes(5).toString('hex')}`;
    const mkPool = (): Pool => {
      const p = new pg.Pool({ connectionString: pgUrl, max: 10, connectionTimeoutMillis: 5000, application_name: 'threadloom-bench' });
      p.on('error', () => undefined);
      return p;
    };
    const poolA = mkPool();
    const poolB = mkPool();
    const stores: SessionStore[] = [];
    let reachable = false;
    try {
      try {
        await poolA.query('SELECT 1');
        reachable = true;
      } catch (err) {
        return skip(out, `PostgreSQL not reachable at ${where}: ${(err as Error).message || (err as { code?: string }).code}`, ctx.log);
      }
      const settings = await poolA.query(`SELECT current_setting('server_version') AS v, current_setting('synchronous_commit') AS sc, current_setting('fsync') AS fs`);
      const st = settings.rows[0] as { v: string; sc: string; fs: string };
      out.notes.push(`PostgreSQL ${st.v} at ${where}, schema ${schema} (dropped afterwards); synchronous_commit=${st.sc}, fsync=${st.fs}`);
      // Store A and the bare INSERT share pool A (the same pg client); store B has its own pool and cache.
      const a = openStore({ pg: poolA as never, schema });
      const b = openStore({ pg: poolB as never, schema });
      stores.push(a, b);
      try {
        await a.createSession({ id: 'probe' });
      } catch (err) {
        return skip(out, `openStore({url: ${where}, schema}) does not work: ${(err as Error).message}`, ctx.log);
      }
      await poolA.query(`CREATE TABLE "${schema}".bench_bare (id bigserial PRIMARY KEY, doc jsonb NOT NULL)`);

      const rows: Array<Array<string | number>> = [];
      const data: Record<string, unknown> = {};

      // ---- append vs history, and vs a bare INSERT
      const sizes = bySize(ctx.config, { full: [100, 10_000, 100_000], quick: [100, 10_000, 100_000], smoke: [20, 100, 300] });
      const ids = sizes.map((n) => `h${n}`);
      let t0 = performance.now();
      for (const [i, id] of ids.entries()) await buildPg(a, id, sizes[i]!);
      out.notes.push(`setup: ${sizes.map(sizeLabel).join(' + ')} messages with addMessages(1000) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const { appends, rounds } = bySize(ctx.config, { full: { appends: 300, rounds: 10 }, quick: { appends: 150, rounds: 10 }, smoke: { appends: 6, rounds: 2 } });
      ctx.log(`append: ${appends} timed appends per case`);
      let n = 1_000_000;
      const protoDoc = { seq: 0, at: '', type: 'message.added', message: { id: '', role: 'user', content: message(0).content } };
      let bareSeq = 0;
      const bare = async () => {
        const doc = JSON.stringify({ ...protoDoc, seq: ++bareSeq, at: new Date().toISOString(), message: { ...protoDoc.message, id: rng.hex(16) } });
        await poolA.query(`INSERT INTO "${schema}".bench_bare (doc) VALUES ($1::jsonb)`, [doc]);
      };
      for (let w = 0; w < 10; w++) {
        await bare();
        for (const id of ids) await a.addMessage(id, message(n++));
      }
      const cases = ['bare', ...ids];
      const samples = new Map<string, number[]>(cases.map((c) => [c, []]));
      for (let r = 0; r < rounds; r++) {
        for (const c of rotate(cases, r)) {
          for (let k = 0; k < appends / rounds; k++) {
            const m = message(n++);
            const t = performance.now();
            if (c === 'bare') await bare();
            else await a.addMessage(c, m);
            samples.get(c)!.push(performance.now() - t);
          }
        }
      }
      // Round trips: a bare `SELECT 1`, and the statements one addMessage / one fresh read sends.
      const rt: number[] = [];
      const roundTrips = bySize(ctx.config, { full: 100, quick: 100, smoke: 10 });
      for (let k = 0; k < roundTrips; k++) {
        const t = performance.now();
        await poolA.query('SELECT 1');
        rt.push(performance.now() - t);
      }
      const rtS = summarize(rt);
      const counter = { n: 0 };
      const counted = openStore({ pg: countingPool(poolA, counter) as never, schema });
      stores.push(counted);
      await counted.getMessages(ids[0]!, { limit: 50 });
      await counted.addMessage(ids[0]!, message(n++));
      counter.n = 0;
      for (let k = 0; k < 20; k++) await counted.addMessage(ids[0]!, message(n++));
      const perAppend = counter.n / 20;
      await b.addMessage(ids[0]!, message(n++));
      counter.n = 0;
      await counted.getMessages(ids[0]!, { limit: 50 });
      const perFreshRead = counter.n;
      counter.n = 0;
      await counted.getMessages(ids[0]!, { limit: 50 });
      const perWarmRead = counter.n;
      out.notes.push(
        `round trips: one addMessage sends ${perAppend} statements (the bare INSERT 1); a read after another handle's append ${perFreshRead}, a read with nothing new ${perWarmRead}; ` +
          `SELECT 1 round trip p50 ${fmtMs(rtS.p50)}`,
      );
      data.roundTrips = { selectOne: rtS, statementsPerAddMessage: perAppend, statementsPerFreshRead: perFreshRead, statementsPerWarmRead: perWarmRead };

      const stats = new Map<string, Summary>([...samples].map(([c, s]) => [c, summarize(s)]));
      const bareS = stats.get('bare')!;
      const smallS = stats.get(ids[0]!)!;
      const bigS = stats.get(ids[ids.length - 1]!)!;
      rows.push(['append', 'bare INSERT … jsonb (autocommit, same pool)', bareS.n, fmtMs(bareS.p50), fmtMs(bareS.p99), '1.00×']);
      rows.push(['append', 'diag: SELECT 1 round trip (same pool)', rtS.n, fmtMs(rtS.p50), fmtMs(rtS.p99), fmtRatio(rtS.p50 / bareS.p50)]);
      for (const [i, id] of ids.entries()) {
        const s = stats.get(id)!;
        rows.push(['append', `addMessage @${sizeLabel(sizes[i]!)}`, s.n, fmtMs(s.p50), fmtMs(s.p99), `${fmtRatio(s.p50 / bareS.p50)} bare, ${fmtRatio(s.p50 / smallS.p50)} @${sizeLabel(sizes[0]!)}`]);
      }
      out.targets.push(
        target('postgres', `append p50 @${sizeLabel(sizes[sizes.length - 1]!)} / @${sizeLabel(sizes[0]!)}`, bigS.p50 / smallS.p50, 1.5, `${fmtMs(bigS.p50)} vs ${fmtMs(smallS.p50)} (p99 ${fmtMs(bigS.p99)} vs ${fmtMs(smallS.p99)})`),
        target('postgres', 'addMessage / bare INSERT p50', smallS.p50 / bareS.p50, 2, `${fmtMs(smallS.p50)} vs ${fmtMs(bareS.p50)}`),
      );
      data.append = Object.fromEntries(stats);

      // ---- fresh read after one external append (B writes, A reads)
      const freshIds = [ids[0]!, ids[ids.length - 1]!];
      const freshN = bySize(ctx.config, { full: 100, quick: 50, smoke: 3 });
      ctx.log(`fresh read after one external append × ${freshN}`);
      for (const id of freshIds) {
        await a.getMessages(id, { limit: 50 });
        await b.getSessionInfo(id);
      }
      const fresh: number[][] = [[], []];
      for (let r = 0; r < freshN + 3; r++) {
        for (const i of rotate([0, 1], r)) {
          const written = await b.addMessage(freshIds[i]!, message(n++));
          const t = performance.now();
          const page = await a.getMessages(freshIds[i]!, { limit: 50 });
          if (r >= 3) fresh[i]!.push(performance.now() - t);
          if (page[page.length - 1]?.id !== written.id) throw new Error('fresh read did not see the external append');
        }
      }
      const freshS = fresh.map((f) => summarize(f));
      freshS.forEach((s, i) => rows.push(['fresh read', `getMessages({limit: 50}) after 1 external append @${sizeLabel(i === 0 ? sizes[0]! : sizes[sizes.length - 1]!)}`, s.n, fmtMs(s.p50), fmtMs(s.p99), fmtRatio(s.p50 / freshS[0]!.p50)]));
      out.targets.push(
        target('postgres', `fresh read after external append p50 @${sizeLabel(sizes[sizes.length - 1]!)} / @${sizeLabel(sizes[0]!)}`, freshS[1]!.p50 / freshS[0]!.p50, 2, `${fmtMs(freshS[1]!.p50)} vs ${fmtMs(freshS[0]!.p50)}`),
      );
      data.freshRead = freshS;

      // ---- batch append (on a session of ~1 000 messages, as the file workload)
      const batchReps = bySize(ctx.config, { full: 10, quick: 5, smoke: 2 });
      ctx.log(`batch: ${batchReps} × (addMessages(${BATCH}) vs ${BATCH} × addMessage)`);
      const batchHistory = bySize(ctx.config, { full: 1000, quick: 1000, smoke: 100 });
      await buildPg(a, 'batch', batchHistory);
      const batchM = await measureBatch(a, 'batch', 'postgres', batchReps, bySize(ctx.config, { full: 20, quick: 20, smoke: 5 }));
      const { rows: batchRows, note: batchNote, ...batchFigures } = batchM;
      out.notes.push(batchNote);
      data.batch = batchFigures;

      // ---- reads: cold open (a new store, its own pool) and warm getChatHistory, short vs long session
      const readIds = [ids[0]!, ids[ids.length - 1]!];
      const readLabels = [sizeLabel(sizes[0]!), sizeLabel(sizes[sizes.length - 1]!)];
      const openReps = bySize(ctx.config, { full: 5, quick: 3, smoke: 2 });
      const histN = bySize(ctx.config, { full: 500, quick: 200, smoke: 10 });
      ctx.log(`reads: cold open × ${openReps}, warm getChatHistory × ${histN}`);
      const coldOpen: number[][] = [[], []];
      for (let r = 0; r < openReps; r++) {
        for (const i of rotate([0, 1], r)) {
          const c = openStore({ url: pgUrl, schema });
          try {
            const t = performance.now();
            const page = await c.getMessages(readIds[i]!, { limit: 50 });
            coldOpen[i]!.push(performance.now() - t);
            if (page.length !== 50) throw new Error(`cold read returned ${page.length} messages`);
          } finally {
            await c.close();
          }
        }
      }
      for (let w = 0; w < 20; w++) for (const id of readIds) await a.getChatHistory(id, { maxMessages: 50 });
      const hist: number[][] = [[], []];
      for (let r = 0; r < 10; r++) {
        for (const i of rotate([0, 1], r)) {
          for (let k = 0; k < histN / 10; k++) {
            const t = performance.now();
            await a.getChatHistory(readIds[i]!, { maxMessages: 50 });
            hist[i]!.push(performance.now() - t);
          }
        }
      }
      const coldOpenS = coldOpen.map((c) => summarize(c));
      const histS = hist.map((h) => summarize(h));
      const readRows: Array<Array<string | number>> = [];
      coldOpenS.forEach((s, i) => readRows.push(['reads', `cold open (new store and pool), first getMessages({limit: 50}) @${readLabels[i]}`, s.n, fmtMs(s.p50), fmtMs(s.p99), fmtRatio(s.p50 / coldOpenS[0]!.p50)]));
      histS.forEach((s, i) => readRows.push(['reads', `warm getChatHistory({maxMessages: 50}) @${readLabels[i]}`, s.n, fmtMs(s.p50), fmtMs(s.p99), fmtRatio(s.p50 / histS[0]!.p50)]));
      data.reads = { coldOpen: coldOpenS, warmChatHistory: histS };

      // ---- fork: at the middle of the long session vs near its start, then a cold read of each fork
      const parent = ids[ids.length - 1]!;
      const parentSize = sizes[sizes.length - 1]!;
      const points = { deep: Math.floor(parentSize / 2), early: 10 };
      const forkReps = bySize(ctx.config, { full: 20, quick: 10, smoke: 2 });
      ctx.log(`fork: forkSession × ${forkReps} at message ${points.deep} and at message ${points.early}`);
      for (const k of ['deep', 'early'] as const) await a.forkSession(parent, { atIndex: points[k] - 1, id: `warmup-${k}` });
      const forks = { deep: [] as number[], early: [] as number[] };
      for (let r = 0; r < forkReps; r++) {
        for (const k of rotate(['deep', 'early'] as const, r)) {
          const t = performance.now();
          await a.forkSession(parent, { atIndex: points[k] - 1, id: `fork-${k}-${r}` });
          forks[k].push(performance.now() - t);
        }
      }
      const forkCold = { deep: [] as number[], early: [] as number[] };
      for (let r = 0; r < openReps; r++) {
        for (const k of rotate(['deep', 'early'] as const, r)) {
          const c = openStore({ url: pgUrl, schema });
          try {
            const t = performance.now();
            const page = await c.getMessages(`fork-${k}-${r % forkReps}`, { limit: 50 });
            forkCold[k].push(performance.now() - t);
            const want = Math.min(50, points[k]);
            if (page.length !== want) throw new Error(`a fork at message ${points[k]} read ${page.length} messages, expected ${want}`);
          } finally {
            await c.close();
          }
        }
      }
      const forkS = { deep: summarize(forks.deep), early: summarize(forks.early) };
      const forkColdS = { deep: summarize(forkCold.deep), early: summarize(forkCold.early) };
      const forkRows: Array<Array<string | number>> = [
        ['fork', `forkSession at message ${sizeLabel(points.deep)} (warm store)`, forkS.deep.n, fmtMs(forkS.deep.p50), fmtMs(forkS.deep.p99), fmtRatio(forkS.deep.p50 / forkS.early.p50)],
        ['fork', `forkSession at message ${points.early} (warm store)`, forkS.early.n, fmtMs(forkS.early.p50), fmtMs(forkS.early.p99), '1.00×'],
        ['fork', `cold store, getMessages({limit: 50}) of the fork at ${sizeLabel(points.deep)}`, forkColdS.deep.n, fmtMs(forkColdS.deep.p50), fmtMs(forkColdS.deep.p99), fmtRatio(forkColdS.deep.p50 / forkColdS.early.p50)],
        ['fork', `cold store, getMessages({limit: 50}) of the fork at ${points.early}`, forkColdS.early.n, fmtMs(forkColdS.early.p50), fmtMs(forkColdS.early.p99), '1.00×'],
      ];
      out.targets.push(
        target('postgres', `forkSession p50 at message ${sizeLabel(points.deep)} / at message ${points.early}`, forkS.deep.p50 / forkS.early.p50, 2, `${fmtMs(forkS.deep.p50)} vs ${fmtMs(forkS.early.p50)} on a ${sizeLabel(parentSize)}-message parent`),
      );
      data.fork = { forkSession: forkS, coldRead: forkColdS };

      // ---- 8 writer processes, each layout in a schema of its own, verified through a fresh store and raw SQL
      const writerCount = bySize(ctx.config, { full: 150, quick: 60, smoke: 2 });
      let layoutRun = 0;
      const freshTarget = async (): Promise<WriterTarget> => {
        const ws = `${schema}_w${layoutRun++}`;
        return {
          args: ['--schema', ws],
          env: { THREADLOOM_PG_URL: pgUrl },
          open: () => openStore({ url: pgUrl, schema: ws }),
          rawSeqs: async (id) => (await poolA.query(`SELECT seq FROM "${ws}".events WHERE session_id = $1 ORDER BY seq`, [id])).rows.map((row: { seq: string | number }) => Number(row.seq)),
          cleanup: async () => {
            await poolA.query(`DROP SCHEMA IF EXISTS "${ws}" CASCADE`);
          },
        };
      };
      const writersM = await measureWriters(ctx.config.root, 'postgres', writerCount, freshTarget, ctx.log);
      out.integrityErrors.push(...writersM.problems);
      const lostDup = writersM.lost + writersM.duplicated;
      const writersTarget = target('postgres', 'lost + duplicated appends, 8 writer processes (all layouts)', lostDup, 0, `${writersM.lost} lost, ${writersM.duplicated} duplicated, ${writersM.problems.length} integrity problem(s)`, false, 'count');
      writersTarget.pass = writersTarget.pass && writersM.problems.length === 0;
      out.targets.push(writersTarget);
      data.writers = writersM.data;

      // ---- listing
      const levels = bySize(ctx.config, { full: [1_000, 10_000, 100_000], quick: [1_000, 10_000], smoke: [100, 300] });
      const warmN = bySize(ctx.config, { full: 200, quick: 100, smoke: 10 });
      const coldReps = bySize(ctx.config, { full: 3, quick: 3, smoke: 2 });
      let created = 0;
      let createMs = 0;
      const warmAt: Summary[] = [];
      const coldAt: Summary[] = [];
      // The sessions made so far (probe, append, batch, forks): read back, not counted by hand.
      const existing = Number((await poolA.query(`SELECT count(*) AS n FROM "${schema}".sessions`)).rows[0].n);
      for (const wanted of levels) {
        let level = wanted - existing;
        if (created > 0) {
          const rate = created / (createMs / 1000);
          const fits = Math.floor(((CREATE_BUDGET_S - createMs / 1000) * rate + created) / 1000) * 1000;
          if (fits < level) {
            out.notes.push(`creating ${wanted} PostgreSQL sessions would take ~${((level - created) / rate + createMs / 1000).toFixed(0)} s at ${fmtRate(rate)}: capped at ${Math.max(created, fits) + existing} (budget ${CREATE_BUDGET_S} s)`);
            level = Math.max(created, fits);
          }
        }
        ctx.log(`listing: creating sessions → ${level + existing} (${CREATE_CONCURRENCY} concurrent createSession calls)`);
        t0 = performance.now();
        let next = created;
        const worker = async () => {
          for (let i = next++; i < level; i = next++) {
            await a.createSession({ id: sessionId(i), title: `session ${i}`, agentName: 'bench' });
          }
        };
        await Promise.all(Array.from({ length: CREATE_CONCURRENCY }, worker));
        created = level;
        createMs += performance.now() - t0;
        const total = level + existing;
        for (let w = 0; w < 10; w++) await a.listSessions({ limit: 50 });
        const warm: number[] = [];
        for (let k = 0; k < warmN; k++) {
          const t = performance.now();
          const page = await a.listSessions({ limit: 50 });
          warm.push(performance.now() - t);
          if (page.sessions.length !== 50) throw new Error(`listing returned ${page.sessions.length} sessions`);
        }
        const cold: number[] = [];
        for (let r = 0; r < coldReps; r++) {
          const c = openStore({ url: pgUrl, schema });
          const t = performance.now();
          await c.listSessions({ limit: 50 });
          cold.push(performance.now() - t);
          await c.close();
        }
        const ws = summarize(warm);
        const cs = summarize(cold);
        warmAt.push(ws);
        coldAt.push(cs);
        rows.push(
          ['listing', `warm listSessions({limit: 50}) over ${sizeLabel(total)} sessions`, ws.n, fmtMs(ws.p50), fmtMs(ws.p99), fmtRatio(ws.p50 / warmAt[0]!.p50)],
          ['listing', `cold handle (new pool), first call over ${sizeLabel(total)}`, cs.n, fmtMs(cs.p50), fmtMs(cs.p99), fmtRatio(cs.p50 / coldAt[0]!.p50)],
        );
        (data.listing ??= {} as Record<string, unknown>);
        (data.listing as Record<string, unknown>)[String(total)] = { warm: ws, cold: cs };
      }
      const lastTotal = created + existing;
      out.notes.push(`created ${created} sessions in ${(createMs / 1000).toFixed(1)} s (${fmtRate(created / (createMs / 1000))} with ${CREATE_CONCURRENCY} concurrent calls)`);
      out.targets.push(
        target('postgres', `warm listSessions p50 @${sizeLabel(lastTotal)} / @${sizeLabel(levels[0]!)} sessions`, warmAt[warmAt.length - 1]!.p50 / warmAt[0]!.p50, 3, `${fmtMs(warmAt[warmAt.length - 1]!.p50)} vs ${fmtMs(warmAt[0]!.p50)}; cold first call ${fmtMs(coldAt[coldAt.length - 1]!.p50)} vs ${fmtMs(coldAt[0]!.p50)}`),
      );
      out.tables.push(
        {
          title: 'PostgreSQL driver (ratios on p50)',
          columns: ['workload', 'operation', 'n', 'p50', 'p99', 'ratio'],
          rows: [...rows, ...readRows, ...forkRows],
          leftAlign: [0, 1],
        },
        {
          title: `PostgreSQL: ${BATCH} messages appended as one batch, one by one, and by 8 concurrent callers (session of ~${batchHistory} messages)`,
          columns: BATCH_COLUMNS,
          rows: batchRows,
          leftAlign: [0, 1],
        },
        {
          title: 'PostgreSQL: concurrent appends from separate OS processes (verified afterwards from a fresh store and raw SQL)',
          columns: WRITER_COLUMNS,
          rows: writersM.rows,
          leftAlign: [0, 1],
        },
      );
      out.data = data;
    } finally {
      for (const s of stores) await s.close().catch(() => undefined);
      if (reachable) {
        await poolA.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch((err: Error) => ctx.log(`could not drop schema ${schema}: ${err.message}`));
      }
      await poolA.end().catch(() => undefined);
      await poolB.end().catch(() => undefined);
    }
  },
};

export default workload;
