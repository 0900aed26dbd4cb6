/**
 * PostgreSQL driver specifics (the shared behaviour is in postgres.conformance.test.ts): migrations
 * racing across processes, a caller's own pool, secrets never in errors, `pg` loaded lazily, killed
 * connections mid-append, watch() across processes, keyset listing, raw reads equal driver reads.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  DriverUnavailableError,
  InvalidInputError,
  LockTimeoutError,
  SessionExistsError,
  SessionNotFoundError,
  SessionStore,
  StaleSessionError,
  ThreadloomError,
  openStore,
  type StoredEvent,
} from '../src/index.js';
import { SpeculationDeclined, type SessionDriver, type SessionSummary } from '../src/drivers/driver.js';
import { compareListOrder } from '../src/drivers/listing.js';
import { createPostgresDriver, readEventsParams, readEventsSql, type PgPoolLike } from '../src/drivers/postgres.js';
import { LATEST_VERSION, MIGRATIONS, quoteIdent } from '../src/drivers/postgres/schema.js';
import { runWorkers, startWorker } from './helpers/spawn.js';
import { PG_URL, dropSchema, freshSchema, rawClient, rawEvents, requirePostgres } from './helpers/pg.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** PG_URL with another application_name, so a test can find (and kill) exactly its own connections. */
function withAppName(url: string, name: string): string {
  const u = new URL(url);
  u.searchParams.set('application_name', name);
  return u.toString();
}

function summaryFor(id: string, headSeq: number, extra: Partial<SessionSummary> = {}): SessionSummary {
  return {
    id,
    title: null,
    parentId: null,
    forkedFrom: null,
    agentName: null,
    userId: null,
    metadata: {},
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    messageCount: Math.max(0, headSeq - 1),
    shareTokenHash: null,
    headSeq,
    deleted: false,
    ...extra,
  };
}

if (await requirePostgres()) {
  describe('postgres driver', () => {
    let admin: pg.Client;
    const schemas: string[] = [];
    const schema = () => {
      const s = freshSchema('tl_pgt');
      schemas.push(s);
      return s;
    };
    before(async () => {
      admin = await rawClient();
    });
    after(async () => {
      for (const s of schemas) await dropSchema(admin, s);
      await admin.end();
    });

    describe('migrations', () => {
      it('5 processes opening a fresh schema at once all succeed; each version is recorded once', async () => {
        const s = schema();
        const runs = await runWorkers(
          { kind: 'url', url: PG_URL, schema: s },
          Array.from({ length: 5 }, (_, i) => ({ kind: 'create', sessionId: `mig-${i}`, writer: `p${i}` })),
        );
        assert.deepEqual(
          runs.map((r) => r.acks[0]),
          Array.from({ length: 5 }, () => ({ ok: true })),
        );
        const r = await admin.query(`SELECT version, count(*)::int AS n FROM "${s}".migrations GROUP BY version ORDER BY version`);
        assert.deepEqual(
          r.rows,
          MIGRATIONS.map((m) => ({ version: m.version, n: 1 })),
        );
        const sessions = await admin.query(`SELECT count(*)::int AS n FROM "${s}".sessions`);
        assert.equal(sessions.rows[0].n, 5);
      });

      it('concurrent first calls in one process and re-opens are idempotent', async () => {
        const s = schema();
        const stores = Array.from({ length: 5 }, () => openStore({ url: PG_URL, schema: s }));
        try {
          await Promise.all(stores.map((st, i) => st.createSession({ id: `again-${i}` })));
          const again = openStore({ url: PG_URL, schema: s });
          assert.equal((await again.getSessionInfo('again-0')).headSeq, 1);
          await again.close();
        } finally {
          for (const st of stores) await st.close();
        }
        const r = await admin.query(`SELECT max(version) AS v, count(*)::int AS n FROM "${s}".migrations`);
        assert.deepEqual(r.rows[0], { v: LATEST_VERSION, n: MIGRATIONS.length });
        const tables = await admin.query(
          `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
          [s],
        );
        assert.deepEqual(
          tables.rows.map((t) => t.table_name),
          ['events', 'migrations', 'sessions'],
        );
      });
    });

    describe('options and lifecycle', () => {
      it('validates the schema name and the options synchronously', () => {
        for (const bad of ['Threadloom', 'a-b', '1abc', 'x'.repeat(64), '', 'a;drop', 'public"']) {
          assert.throws(() => openStore({ url: PG_URL, schema: bad }), InvalidInputError, bad);
        }
        assert.throws(() => createPostgresDriver({}), InvalidInputError);
        const pool = new pg.Pool({ connectionString: PG_URL });
        try {
          assert.throws(() => createPostgresDriver({ url: PG_URL, pool }), InvalidInputError);
        } finally {
          void pool.end();
        }
        const d = createPostgresDriver({ url: PG_URL });
        assert.equal(d.name, 'postgres');
        assert.deepEqual(d.capabilities, { watch: true, rawRead: true });
        assert.equal(typeof d.subscribe, 'function');
      });

      it("works on the caller's own pg.Pool and never ends it", async () => {
        const s = schema();
        const pool = new pg.Pool({ connectionString: PG_URL, max: 3 });
        try {
          const typed: PgPoolLike = pool; // a real pg.Pool satisfies the structural type
          const store = openStore({ pg: typed, schema: s });
          await store.createSession({ id: 'own-pool', title: 'mine' });
          await store.addMessages('own-pool', [
            { role: 'user', content: 'a' },
            { role: 'assistant', content: 'b' },
          ]);
          assert.deepEqual((await store.getMessages('own-pool')).map((m) => m.content), ['a', 'b']);
          const controller = new AbortController();
          const watching = (async () => {
            const seen: StoredEvent[] = [];
            for await (const e of store.watch('own-pool', { signal: controller.signal })) seen.push(e);
            return seen;
          })();
          await sleep(100);
          await store.addMessage('own-pool', { role: 'user', content: 'c' });
          await sleep(200);
          controller.abort();
          assert.equal((await watching).length, 1);
          await store.close();
          assert.equal(pool.ended, false);
          const r = await pool.query(`SELECT count(*)::int AS n FROM "${s}".events WHERE session_id = 'own-pool'`);
          assert.equal(r.rows[0].n, 4);
          assert.equal(pool.totalCount <= 3, true);
        } finally {
          await pool.end();
        }
      });

      it('a failed first connection is retried on the next call, not cached', async () => {
        const s = schema();
        const real = new pg.Pool({ connectionString: PG_URL, max: 2 });
        let attempts = 0;
        const flaky: PgPoolLike = {
          connect: async () => {
            attempts++;
            if (attempts === 1) throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:5432'), { code: 'ECONNREFUSED' });
            return real.connect();
          },
          query: (text, values) => real.query(text, values),
          end: () => real.end(),
        };
        const store = openStore({ pg: flaky, schema: s });
        try {
          await assert.rejects(store.sessionExists('x'), DriverUnavailableError);
          assert.equal(await store.sessionExists('x'), false);
          await store.createSession({ id: 'x' });
          assert.equal(await store.sessionExists('x'), true);
        } finally {
          await store.close();
          await real.end();
        }
      });

      it('close() ends the pool it created and releases every connection', async () => {
        const s = schema();
        const app = `tl_close_${s.slice(-6)}`;
        const store = openStore({ url: withAppName(PG_URL, app), schema: s });
        const count = async () =>
          (await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`, [app])).rows[0].n as number;
        try {
          await store.createSession({ id: 'c' });
          const stop = await store.driver.subscribe!('c', () => undefined);
          await store.addMessage('c', { role: 'user', content: 'x' });
          assert.ok((await count()) >= 2, 'the listening connection and a pooled one');
          await stop();
        } finally {
          await store.close();
        }
        for (let i = 0; i < 50 && (await count()) > 0; i++) await sleep(20);
        assert.equal(await count(), 0);
        await assert.rejects(store.driver.head('c'), DriverUnavailableError);
      });
    });

    describe('errors never carry the password', () => {
      const SECRET = 's3cretPw';
      const cases: Array<[string, string, RegExp]> = [
        ['refused connection', `postgres://user:${SECRET}@127.0.0.1:1/db`, /127\.0\.0\.1:1\/db/],
        ['query-string password', `postgres://user@127.0.0.1:1/db?password=${SECRET}`, /127\.0\.0\.1:1\/db/],
        ['percent-encoded password', `postgres://user:${SECRET}%2F%40x@127.0.0.1:1/db`, /127\.0\.0\.1:1\/db/],
        ['malformed url', `postgres://user:${SECRET}@[not a host/db`, /PostgreSQL/],
        ['bad port', `postgres://user:${SECRET}@127.0.0.1:notaport/db`, /PostgreSQL/],
        [
          'missing database',
          `postgres://postgres:${SECRET}@127.0.0.1:${new URL(PG_URL).port || 5432}/threadloom_no_such_db`,
          /threadloom_no_such_db/,
        ],
      ];
      for (const [name, url, mentions] of cases) {
        it(`${name}: DriverUnavailableError naming the target, never the secret`, async () => {
          const store = openStore({ url });
          try {
            const err = await store.getSession('x').catch((e: unknown) => e);
            assert.ok(err instanceof DriverUnavailableError, `got ${String(err)}`);
            assert.equal(err.code, 'DRIVER_UNAVAILABLE');
            assert.match(err.message, mentions);
            for (const text of [
              err.message,
              String(err),
              err.stack ?? '',
              JSON.stringify(err),
              inspect(err, { depth: 10, showHidden: true }),
              JSON.stringify((err as { cause?: unknown }).cause ?? null),
            ]) {
              assert.ok(!text.includes(SECRET), `secret leaked: ${text}`);
              assert.ok(!text.includes(encodeURIComponent(`${SECRET}/@x`)), `encoded secret leaked: ${text}`);
            }
            // A second call tries again (and fails the same way).
            await assert.rejects(store.getSession('x'), DriverUnavailableError);
          } finally {
            await store.close();
          }
        });
      }
    });

    it("loads 'pg' only when a PostgreSQL store is used, and says how to install it when missing", async () => {
      const hook = `export async function resolve(specifier, context, next) {
        if (specifier === 'pg') { const e = new Error("Cannot find package 'pg'"); e.code = 'ERR_MODULE_NOT_FOUND'; throw e; }
        return next(specifier, context);
      }`;
      const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
      const script = `
        import { openStore, SessionStore } from './src/index.ts';
        import { createMemoryDriver } from './src/drivers/memory.ts';
        const mem = new SessionStore(createMemoryDriver());
        await mem.createSession({ id: 'fine' });
        const store = openStore({ url: 'postgres://u:pw123456@127.0.0.1:5432/test' });
        try { await store.getSession('x'); console.log('NO ERROR'); }
        catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }
        await store.close();
      `;
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--import', `data:text/javascript,${encodeURIComponent(register)}`, '--input-type=module', '-e', script],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      let errText = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (errText += d));
      const code = await new Promise((resolve) => child.on('close', resolve));
      assert.equal(code, 0, errText);
      const result = JSON.parse(out.trim().split('\n').pop()!);
      assert.deepEqual(result, {
        name: 'DriverUnavailableError',
        code: 'DRIVER_UNAVAILABLE',
        message: "the PostgreSQL driver needs the 'pg' package: npm install pg",
      });
    });

    describe('killed connections', () => {
      const running = (app: string, states: string[]) =>
        admin.query(
          `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1 AND state = ANY($2::text[])`,
          [app, states],
        );

      it('an append whose connection is terminated mid-transaction fails typed, writes nothing, and a retry stores each message once', async () => {
        const s = schema();
        const app = `tl_kill1_${s.slice(-6)}`;
        const inner = createPostgresDriver({ url: withAppName(PG_URL, app), schema: s });
        let killInPlan = false;
        // The real driver; its plan terminates the connection holding the transaction before returning.
        const driver: SessionDriver = {
          ...inner,
          name: inner.name,
          capabilities: inner.capabilities,
          append: (id, mode, plan) =>
            inner.append(id, mode, async (tx) => {
              // The kill targets the locked path's open transaction: a speculative attempt is declined.
              if (killInPlan && tx.speculative) throw new SpeculationDeclined();
              const planned = await plan(tx);
              if (killInPlan) {
                killInPlan = false;
                const r = await running(app, ['idle in transaction']);
                assert.equal(r.rows.length, 1, 'exactly one transaction open');
              }
              return planned;
            }),
        };
        const store = new SessionStore(driver);
        try {
          await store.createSession({ id: 'k' });
          await store.addMessage('k', { id: 'before', role: 'user', content: 'x' });
          const batch = Array.from({ length: 5 }, (_, i) => ({ id: `kb-${i}`, role: 'user' as const, content: `kb ${i}` }));
          killInPlan = true;
          const err = await store.addMessages('k', batch).catch((e: unknown) => e);
          assert.ok(err instanceof ThreadloomError, `typed error, got ${inspect(err)}`);
          assert.ok(['STORAGE_ERROR', 'DRIVER_UNAVAILABLE'].includes(err.code), err.code);
          const raw = await rawEvents(admin, s, 'k');
          assert.equal(raw!.length, 2, 'nothing of the batch is stored');
          assert.equal(await store.driver.head('k'), 2);
          const stored = await store.addMessages('k', batch);
          assert.deepEqual(stored.map((m) => m.id), batch.map((m) => m.id));
          const again = await store.addMessages('k', batch);
          assert.deepEqual(again, stored);
          const ids = (await store.getMessages('k')).map((m) => m.id);
          assert.deepEqual(ids, ['before', ...batch.map((m) => m.id)]);
        } finally {
          await store.close();
        }
      });

      it('terminating the connections during a stream of batch appends: every batch all-or-nothing, retries store each once', async (t) => {
        const s = schema();
        const app = `tl_kill2_${s.slice(-6)}`;
        const store = openStore({ url: withAppName(PG_URL, app), schema: s });
        const BATCHES = 60;
        const SIZE = 10;
        await store.createSession({ id: 'stream' });
        let done = false;
        let kills = 0;
        let failures = 0;
        const errors: unknown[] = [];
        const observed: string[] = [];
        const killer = (async () => {
          while (!done) {
            const r = await running(app, ['active', 'idle in transaction']);
            kills += r.rows.length;
            await sleep(3 + Math.random() * 15);
          }
        })();
        // Watches the table directly: at no moment is part of a batch visible.
        const observer = (async () => {
          while (!done) {
            const r = await admin.query(
              `SELECT event->'message'->>'id' AS id FROM "${s}".events WHERE session_id = 'stream' AND event->>'type' = 'message.added'`,
            );
            const perBatch = new Map<string, number>();
            for (const row of r.rows as Array<{ id: string }>) {
              const b = row.id.split('-')[1]!;
              perBatch.set(b, (perBatch.get(b) ?? 0) + 1);
            }
            for (const [b, n] of perBatch) if (n !== SIZE) observed.push(`batch ${b} has ${n} of ${SIZE}`);
            await sleep(5);
          }
        })();
        try {
          for (let b = 0; b < BATCHES; b++) {
            const batch = Array.from({ length: SIZE }, (_, k) => ({ id: `s-${b}-${k}`, role: 'user' as const, content: `b${b} m${k}` }));
            for (let attempt = 0; ; attempt++) {
              try {
                await store.addMessages('stream', batch);
                break;
              } catch (err) {
                failures++;
                errors.push(err);
                if (attempt > 30) throw err;
                await sleep(5);
              }
            }
          }
        } finally {
          done = true;
          await killer;
          await observer;
        }
        try {
          assert.deepEqual(observed, [], 'no half batch was ever visible');
          for (const err of errors) {
            assert.ok(err instanceof ThreadloomError, `typed error, got ${inspect(err)}`);
            assert.ok(['STORAGE_ERROR', 'DRIVER_UNAVAILABLE'].includes(err.code), err.code);
          }
          const raw = (await rawEvents(admin, s, 'stream'))!;
          raw.forEach((e, i) => assert.equal(e.seq, i + 1, 'gap-free seq'));
          const ids = raw.filter((e) => e.type === 'message.added').map((e) => (e as { message: { id: string } }).message.id);
          assert.equal(ids.length, BATCHES * SIZE, 'each message exactly once');
          assert.equal(new Set(ids).size, BATCHES * SIZE);
          assert.ok(kills > 0, 'the killer terminated connections');
          // Appends keep working on the same store afterwards.
          await store.addMessage('stream', { role: 'user', content: 'after' });
          t.diagnostic(`${kills} backends terminated, ${failures} failed attempts retried`);
        } finally {
          await store.close();
        }
      });
    });

    describe('watch()', () => {
      it("delivers another process's appends in order, and survives its listening connection being killed", async () => {
        const s = schema();
        const app = `tl_watch_${s.slice(-6)}`;
        const url = withAppName(PG_URL, app);
        const store = openStore({ url, schema: s });
        await store.createSession({ id: 'w' });
        const seen: StoredEvent[] = [];
        const controller = new AbortController();
        const waiter: { current: { n: number; resolve: () => void } | null } = { current: null };
        const consumer = (async () => {
          for await (const e of store.watch('w', { signal: controller.signal })) {
            seen.push(e);
            if (waiter.current && seen.length >= waiter.current.n) waiter.current.resolve();
          }
        })();
        const waitFor = (n: number, ms = 30_000) =>
          seen.length >= n
            ? Promise.resolve()
            : new Promise<void>((resolve, reject) => {
                const t = setTimeout(() => reject(new Error(`only ${seen.length} of ${n} events arrived`)), ms);
                waiter.current = { n, resolve: () => (clearTimeout(t), resolve()) };
              });
        try {
          const first = startWorker({ kind: 'url', url: PG_URL, schema: s }, { kind: 'append', sessionId: 'w', writer: 'child', count: 3 });
          assert.equal((await first.done).code, 0);
          await waitFor(3);
          assert.deepEqual(
            seen.map((e) => (e.type === 'message.added' ? e.message.id : e.type)),
            ['child-0', 'child-1', 'child-2'],
          );
          assert.deepEqual(seen.map((e) => e.seq), [2, 3, 4]);

          // Kill the listening connection: the driver reconnects and catches up.
          const killed = await admin.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND query ILIKE 'LISTEN%'`,
            [app],
          );
          assert.equal(killed.rows.length, 1, 'one listening connection');
          const second = startWorker({ kind: 'url', url: PG_URL, schema: s }, { kind: 'append', sessionId: 'w', writer: 'again', count: 2 });
          assert.equal((await second.done).code, 0);
          await waitFor(5);
          assert.deepEqual(seen.slice(3).map((e) => (e.type === 'message.added' ? e.message.id : e.type)), ['again-0', 'again-1']);
        } finally {
          controller.abort();
          await consumer.catch(() => undefined);
          await store.close();
        }
      });

      it('notifies each subscriber of its own session only', async () => {
        const s = schema();
        const store = openStore({ url: PG_URL, schema: s });
        try {
          await store.createSession({ id: 'a' });
          await store.createSession({ id: 'b' });
          let a = 0;
          let b = 0;
          const stopA = await store.driver.subscribe!('a', () => a++);
          const stopB = await store.driver.subscribe!('b', () => b++);
          const other = openStore({ url: PG_URL, schema: s });
          await other.addMessage('a', { role: 'user', content: 'x' });
          await other.close();
          for (let i = 0; i < 100 && a === 0; i++) await sleep(10);
          assert.equal(a, 1);
          assert.equal(b, 0);
          await stopA();
          await store.addMessage('a', { role: 'user', content: 'y' });
          await store.addMessage('b', { role: 'user', content: 'y' });
          for (let i = 0; i < 100 && b === 0; i++) await sleep(10);
          assert.equal(a, 1);
          assert.equal(b, 1);
          await stopB();
        } finally {
          await store.close();
        }
      });
    });

    describe('listing', () => {
      it('pages through 300 sessions by keyset with no duplicates or misses, in listing order', async () => {
        const s = schema();
        const store = openStore({ url: PG_URL, schema: s });
        try {
          const ids: string[] = [];
          // Created 30 at a time, so many share an updatedAt millisecond (ties are ordered by id).
          for (let chunk = 0; chunk < 10; chunk++) {
            const made = await Promise.all(
              Array.from({ length: 30 }, (_, i) =>
                store.createSession({ id: `L${String(chunk * 30 + i).padStart(3, '0')}`, agentName: 'lister', userId: i % 3 === 0 ? 'u0' : 'u1' }),
              ),
            );
            ids.push(...made.map((m) => m.id));
          }
          await store.createSession({ id: 'other-agent', agentName: 'nobody' });
          await store.addMessage('L150', { role: 'user', content: 'bump' });
          const all = (await store.driver.list({ limit: 1000, after: null, agentName: 'lister' })).sessions;
          assert.equal(all.length, 300);
          const expected = [...all].sort(compareListOrder).map((x) => x.id);
          assert.deepEqual(all.map((x) => x.id), expected, 'the driver returns listing order');
          assert.equal(expected[0], 'L150');
          const ties = new Set(all.map((x) => x.updatedAt)).size;
          assert.ok(ties < 300, 'some sessions share an updatedAt');
          for (const limit of [1, 7, 50, 299, 300]) {
            const seen: string[] = [];
            let cursor: string | null = null;
            let pages = 0;
            do {
              const page = await store.listSessions({ agentName: 'lister', limit, cursor });
              assert.ok(page.sessions.length <= limit);
              seen.push(...page.sessions.map((x) => x.id));
              cursor = page.nextCursor;
              pages++;
            } while (cursor);
            assert.deepEqual(seen, expected, `limit ${limit}`);
            assert.equal(pages, Math.ceil(300 / limit), `limit ${limit}: no empty trailing page`);
          }
          const u0 = (await store.listSessions({ userId: 'u0', limit: 1000 })).sessions;
          assert.equal(u0.length, 100);
          const everything = (await store.listSessions({ limit: 1000 })).sessions;
          assert.equal(everything.length, 301);
          // A session deleted meanwhile disappears; its fenced log is still enumerable until removed.
          await store.deleteSession('L000');
          assert.ok(!(await store.listSessions({ limit: 1000 })).sessions.some((x) => x.id === 'L000'));
          const logIds: string[] = [];
          for await (const id of store.driver.listLogIds()) logIds.push(id);
          assert.equal(logIds.length, 300);
          assert.deepEqual(logIds, [...logIds].sort());
        } finally {
          await store.close();
        }
      });

      it('keeps keys with characters PostgreSQL text cannot hold exact (NUL, lone surrogates)', async () => {
        const s = schema();
        const store = openStore({ url: PG_URL, schema: s });
        try {
          await store.createSession({ id: 'nul', agentName: 'a\u0000b', userId: 'u\ud800', title: 't\u0000' });
          await store.createSession({ id: 'fffd', agentName: 'a\ufffdb', userId: 'u\ufffd' });
          const byNul = await store.listSessions({ agentName: 'a\u0000b' });
          assert.deepEqual(byNul.sessions.map((x) => x.id), ['nul']);
          assert.equal(byNul.sessions[0]!.title, 't\u0000');
          assert.deepEqual((await store.listSessions({ agentName: 'a\ufffdb' })).sessions.map((x) => x.id), ['fffd']);
          assert.deepEqual((await store.listSessions({ userId: 'u\ud800' })).sessions.map((x) => x.id), ['nul']);
          assert.deepEqual((await store.listSessions({ userId: 'u\ufffd', limit: 1 })).sessions.map((x) => x.id), ['fffd']);
          assert.equal((await store.getSessionInfo('nul')).agentName, 'a\u0000b');
        } finally {
          await store.close();
        }
      });
    });

    describe('driver primitives', () => {
      let driver: SessionDriver;
      let s: string;
      before(() => {
        s = schema();
        driver = createPostgresDriver({ url: PG_URL, schema: s });
      });
      after(async () => {
        await driver.close();
      });

      const tricky = {
        nul: 'a\u0000b',
        lone: '\ud800x\udfff',
        emoji: '😀 ünïcødé',
        empty: '',
        quotes: `'"\\\n\t`,
        numbers: [0, -1, 1.5, 0.1 + 0.2, 1e21, 1e-7, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER],
        nested: { a: [{ b: null }, [], {}], 'key with spaces': true, 'ключ': false },
      };
      const created = (id: string): StoredEvent => ({
        seq: 1,
        at: '2025-01-01T00:00:00.000Z',
        type: 'session.created',
        session: { id, title: null, parentId: null, forkedFrom: null, agentName: null, userId: null, metadata: {} },
      });
      const message = (seq: number, id: string, metadata: Record<string, unknown> = {}): StoredEvent =>
        ({ seq, at: '2025-01-01T00:00:00.000Z', type: 'message.added', message: { id, role: 'user', content: `c${seq}`, metadata } }) as StoredEvent;

      it('a page of a long log reads only its own rows from the events table, wherever it starts', async () => {
        const count = 5000;
        const events = [created('long'), ...Array.from({ length: count - 1 }, (_, i) => message(i + 2, `long-${i + 2}`))];
        await driver.append('long', 'create', async () => ({ events, summary: summaryFor('long', count) }));
        await admin.query(`ANALYZE ${quoteIdent(s)}.events`);
        // What the planner did, measured by PostgreSQL itself: rows produced by every scan of the events table.
        const eventRowsRead = (plan: Record<string, unknown>): number => {
          const own = plan['Relation Name'] === 'events' ? (plan['Actual Rows'] as number) * (plan['Actual Loops'] as number) : 0;
          const children = (plan.Plans as Array<Record<string, unknown>> | undefined) ?? [];
          return own + children.reduce((sum, child) => sum + eventRowsRead(child), 0);
        };
        for (const [after, until, limit] of [[0, undefined, 50], [2500, undefined, 50], [4900, undefined, 128], [100, 3000, 50], [4990, undefined, undefined]] as const) {
          const params = readEventsParams('long', after, until, limit);
          const explained = await admin.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${readEventsSql(quoteIdent(s))}`, params);
          const plan = (explained.rows[0]['QUERY PLAN'] as Array<{ Plan: Record<string, unknown> }>)[0]!.Plan;
          const want = Math.min(limit ?? Infinity, (until ?? count) - after);
          assert.equal(eventRowsRead(plan), want, `after ${after}, until ${until}, limit ${limit}: read ${eventRowsRead(plan)} event rows for a page of ${want}`);
          const page = (await driver.readEvents('long', after, until, limit))!;
          assert.deepEqual(page.map((e) => e.seq), Array.from({ length: want }, (_, i) => after + 1 + i));
        }
      });

      it('stores events exactly: raw reads and driver reads equal what was appended', async () => {
        const proto = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}');
        const events = [created('prim'), message(2, 'm2', tricky), message(3, 'm3', proto), message(4, 'm4')];
        const written = await driver.append('prim', 'create', async (tx) => {
          assert.equal(tx.headSeq, 0);
          assert.deepEqual(await tx.readAfter(0), []);
          return { events, summary: summaryFor('prim', 4) };
        });
        assert.deepEqual(written, events);
        const viaDriver = await driver.readEvents('prim', 0);
        const raw = await rawEvents(admin, s, 'prim');
        assert.deepEqual(viaDriver, events);
        assert.deepEqual(raw, events);
        const m3 = viaDriver![2] as { message: { metadata: Record<string, unknown> } };
        assert.ok(Object.prototype.hasOwnProperty.call(m3.message.metadata, '__proto__'));
        assert.equal(({} as Record<string, unknown>).polluted, undefined);
        assert.equal(await driver.head('prim'), 4);
        assert.deepEqual(await driver.readEvents('prim', 1, 3), events.slice(1, 3));
        assert.deepEqual(await driver.readEvents('prim', 4), []);
        assert.deepEqual(await driver.readEvents('prim', 9, 12), []);
        assert.equal(await driver.readEvents('no-such', 0), null);
        assert.equal(await driver.head('no-such'), null);
      });

      it('append: exact continuation, tail reads under the lock, typed refusals, null plans write nothing', async () => {
        await driver.append('app', 'create', async () => ({ events: [created('app')], summary: summaryFor('app', 1) }));
        await assert.rejects(
          driver.append('app', 'create', async () => ({ events: [created('app')], summary: summaryFor('app', 1) })),
          SessionExistsError,
        );
        await assert.rejects(driver.append('missing', 'update', async () => null), SessionNotFoundError);
        assert.deepEqual(await driver.append('app', 'update', async () => null), []);
        await assert.rejects(
          driver.append('app', 'update', async (tx) => ({ events: [message(tx.headSeq + 2, 'gap')], summary: summaryFor('app', 3) })),
          /continue at seq 2/,
        );
        await assert.rejects(
          driver.append('app', 'update', async () => {
            throw new InvalidInputError('x', 'plan refused');
          }),
          InvalidInputError,
        );
        await driver.append('app', 'update', async (tx) => {
          assert.equal(tx.headSeq, 1);
          assert.deepEqual(await tx.readAfter(0), [created('app')]);
          return { events: [message(2, 'x'), message(3, 'y')], summary: summaryFor('app', 3) };
        });
        assert.deepEqual((await driver.readEvents('app', 0))!.map((e) => e.seq), [1, 2, 3]);
        // Concurrent appends through one driver queue on the row lock.
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            driver.append('app', 'update', async (tx) => ({ events: [message(tx.headSeq + 1, `p${i}`)], summary: summaryFor('app', tx.headSeq + 1) })),
          ),
        );
        const seqs = (await driver.readEvents('app', 0))!.map((e) => e.seq);
        assert.deepEqual(seqs, Array.from({ length: 23 }, (_, i) => i + 1));
        const [summary] = (await driver.list({ limit: 10, after: null })).sessions.filter((x) => x.id === 'app');
        assert.equal(summary!.headSeq, 23);
      });

      it('a row lock held past lockTimeoutMs gives LockTimeoutError and writes nothing', async () => {
        await driver.append('locked', 'create', async () => ({ events: [created('locked')], summary: summaryFor('locked', 1) }));
        const impatient = createPostgresDriver({ url: PG_URL, schema: s, lockTimeoutMs: 300 });
        const holder = await rawClient();
        try {
          await holder.query('BEGIN');
          await holder.query(`SELECT 1 FROM "${s}".sessions WHERE id = 'locked' FOR UPDATE`);
          const started = Date.now();
          let planned = false;
          const err = await impatient
            .append('locked', 'update', async (tx) => {
              planned = true;
              return { events: [message(tx.headSeq + 1, 'late')], summary: summaryFor('locked', tx.headSeq + 1) };
            })
            .catch((e: unknown) => e);
          assert.ok(err instanceof LockTimeoutError, `got ${inspect(err)}`);
          assert.equal(err.waitedMs, 300);
          assert.ok(Date.now() - started >= 250);
          assert.equal(planned, false, 'the plan never ran without the lock');
          await holder.query('COMMIT');
          assert.equal(await impatient.head('locked'), 1);
          await impatient.append('locked', 'update', async (tx) => ({
            events: [message(tx.headSeq + 1, 'now')],
            summary: summaryFor('locked', tx.headSeq + 1),
          }));
          assert.equal(await driver.head('locked'), 2);
        } finally {
          await holder.end();
          await impatient.close();
        }
        assert.throws(() => createPostgresDriver({ url: PG_URL, lockTimeoutMs: 0 }), InvalidInputError);
      });

      it('share lookup, summaries that match the log only, idempotent remove', async () => {
        await driver.append('sh', 'create', async () => ({
          events: [created('sh')],
          summary: summaryFor('sh', 1, { shareTokenHash: 'ab'.repeat(32), title: 'shared' }),
        }));
        assert.equal(await driver.findByShareTokenHash('ab'.repeat(32)), 'sh');
        assert.equal(await driver.findByShareTokenHash('cd'.repeat(32)), null);
        await driver.putSummary(summaryFor('sh', 1, { title: 'repaired' }));
        let listed = (await driver.list({ limit: 100, after: null })).sessions.find((x) => x.id === 'sh')!;
        assert.equal(listed.title, 'repaired');
        assert.equal(await driver.findByShareTokenHash('ab'.repeat(32)), null);
        // A summary of an older head (computed before a concurrent append) never replaces a newer one.
        await assert.rejects(driver.putSummary(summaryFor('sh', 0, { title: 'stale' })), StaleSessionError);
        listed = (await driver.list({ limit: 100, after: null })).sessions.find((x) => x.id === 'sh')!;
        assert.equal(listed.title, 'repaired');
        await driver.putSummary(summaryFor('never-created', 1));
        assert.equal(await driver.head('never-created'), null);
        await driver.remove('sh');
        await driver.remove('sh');
        assert.equal(await driver.head('sh'), null);
        const count = await admin.query(`SELECT count(*)::int AS n FROM "${s}".events WHERE session_id = 'sh'`);
        assert.equal(count.rows[0].n, 0, 'the events went with the session');
      });
    });

    describe('speculative appends (one statement when the head is known)', () => {
      /** A pg pool whose every statement is counted (pool.query and statements on checked-out clients). */
      function countingPool(): { pool: PgPoolLike; statements: string[]; end(): Promise<void> } {
        const real = new pg.Pool({ connectionString: PG_URL, max: 4 });
        const statements: string[] = [];
        const text = (q: unknown) => (typeof q === 'string' ? q : (q as { text: string }).text).replace(/\s+/g, ' ').trim();
        const pool: PgPoolLike = {
          query: (q: never, v?: never) => {
            statements.push(text(q));
            return real.query(q, v) as never;
          },
          connect: async () => {
            const client = await real.connect();
            return {
              query: (q: never, v?: never) => {
                statements.push(text(q));
                return client.query(q, v) as never;
              },
              release: (err?: Error | boolean) => client.release(err),
              on: (event: never, listener: never) => client.on(event, listener),
              removeListener: (event: never, listener: never) => client.removeListener(event, listener),
            } as never;
          },
          end: () => real.end(),
        };
        return { pool, statements, end: () => real.end() };
      }

      /** Records every plan call: whether it was speculative and what it read. */
      function recordingDriver(inner: SessionDriver, calls: Array<{ speculative: boolean; reads: number[] }>): SessionDriver {
        return {
          ...inner,
          name: inner.name,
          capabilities: inner.capabilities,
          append: (id, mode, plan) =>
            inner.append(id, mode, async (tx) => {
              const call = { speculative: tx.speculative === true, reads: [] as number[] };
              calls.push(call);
              return plan({
                headSeq: tx.headSeq,
                ...(tx.speculative ? { speculative: true } : {}),
                readAfter: (after) => {
                  call.reads.push(after);
                  return tx.readAfter(after);
                },
              });
            }),
        };
      }

      it('a create and a warm addMessage are one statement each; reads of the result need no refold', async () => {
        const s = schema();
        const counted = countingPool();
        const store = openStore({ pg: counted.pool, schema: s });
        try {
          await store.getSessionInfo('none').catch(() => undefined); // migrations and first connection
          counted.statements.length = 0;
          await store.createSession({ id: 'one' });
          assert.equal(counted.statements.length, 1, counted.statements.join('\n'));
          counted.statements.length = 0;
          const m = await store.addMessage('one', { role: 'user', content: 'hi' });
          assert.equal(counted.statements.length, 1, counted.statements.join('\n'));
          assert.match(counted.statements[0]!, /FOR UPDATE NOWAIT/);
          assert.deepEqual((await rawEvents(admin, s, 'one'))!.map((e) => e.seq), [1, 2]);
          assert.deepEqual(await store.getMessages('one'), [m]);
          const info = await store.getSessionInfo('one');
          assert.equal(info.messageCount, 1);
          assert.equal(info.headSeq, 2);
        } finally {
          await store.close();
          await counted.end();
        }
      });

      it("another process's append makes the attempt miss: the locked path appends after it, once, catching up by the tail only", async () => {
        const s = schema();
        const calls: Array<{ speculative: boolean; reads: number[] }> = [];
        const a = new SessionStore(recordingDriver(createPostgresDriver({ url: PG_URL, schema: s }), calls));
        try {
          await a.createSession({ id: 'race' });
          await a.addMessage('race', { id: 'a1', role: 'user', content: 'a1' });
          // Another OS process appends: A's last known head (2) is now stale.
          const [other] = await runWorkers({ kind: 'url', url: PG_URL, schema: s }, [{ kind: 'append', sessionId: 'race', writer: 'other', count: 1 }]);
          assert.deepEqual(other!.acks, [{ id: 'other-0', seq: 3 }]);
          calls.length = 0;
          const m = await a.addMessage('race', { id: 'a2', role: 'user', content: 'a2' });
          assert.equal(m.seq, 4);
          assert.deepEqual(
            calls.map((c) => c.speculative),
            [true, false],
            'the speculative attempt missed, then the locked path decided',
          );
          assert.ok(!calls.some((c) => c.reads.includes(0)), `no full refold: reads ${JSON.stringify(calls.map((c) => c.reads))}`);
          const raw = (await rawEvents(admin, s, 'race'))!;
          assert.deepEqual(raw.map((e) => e.seq), [1, 2, 3, 4]);
          assert.deepEqual(
            (await a.getMessages('race')).map((x) => x.id),
            ['a1', 'other-0', 'a2'],
          );
        } finally {
          await a.close();
        }
      });

      it('after a contended miss the next appends take the lock directly, 1 then 2, 4 … as misses repeat; one that lands starts over', async () => {
        const s = schema();
        const calls: Array<{ speculative: boolean; reads: number[] }> = [];
        const a = new SessionStore(recordingDriver(createPostgresDriver({ url: PG_URL, schema: s }), calls));
        const other = openStore({ url: PG_URL, schema: s }); // another handle: its own driver, like another process
        const paths = async (content: string) => {
          calls.length = 0;
          await a.addMessage('busy', { role: 'user', content });
          return calls.map((c) => (c.speculative ? 'try' : 'lock')).join(',');
        };
        try {
          await a.createSession({ id: 'busy' });
          assert.equal(await paths('warm'), 'try');
          await other.addMessage('busy', { role: 'user', content: 'o1' });
          assert.equal(await paths('a1'), 'try,lock', 'the attempt misses: the head moved');
          assert.equal(await paths('a2'), 'lock', 'one append skips the attempt');
          await other.addMessage('busy', { role: 'user', content: 'o2' });
          assert.equal(await paths('a3'), 'try,lock', 'a second miss in a row');
          assert.equal(await paths('a4'), 'lock');
          assert.equal(await paths('a5'), 'lock', 'two appends skip it now');
          assert.equal(await paths('a6'), 'try', 'it lands: nobody else wrote');
          await other.addMessage('busy', { role: 'user', content: 'o3' });
          assert.equal(await paths('a7'), 'try,lock');
          assert.equal(await paths('a8'), 'lock', 'after a landing, a miss skips one append again');
          assert.equal(await paths('a9'), 'try');
          const raw = (await rawEvents(admin, s, 'busy'))!;
          assert.deepEqual(raw.map((e) => e.seq), Array.from({ length: raw.length }, (_, i) => i + 1));
          assert.equal((await a.getMessages('busy')).length, 13);
        } finally {
          await a.close();
          await other.close();
        }
      });

      it("a plan's verdict on a guessed head is not final: expectedSeq and idempotent retries are decided under the lock", async () => {
        const s = schema();
        const a = openStore({ url: PG_URL, schema: s });
        const b = openStore({ url: PG_URL, schema: s });
        try {
          await a.createSession({ id: 'occ' });
          await a.addMessage('occ', { id: 'x1', role: 'user', content: 'x1' });
          await b.addMessage('occ', { id: 'x2', role: 'user', content: 'x2' });
          // A guesses head 2; the true head is 3, which is what the caller expects.
          const m = await a.addMessage('occ', { id: 'x3', role: 'user', content: 'x3' }, { expectedSeq: 3 });
          assert.equal(m.seq, 4);
          await assert.rejects(a.addMessage('occ', { role: 'user', content: 'late' }, { expectedSeq: 3 }), StaleSessionError);
          // B's retry of x2 (already stored) is answered from the log, not appended again.
          const again = await a.addMessage('occ', { id: 'x2', role: 'user', content: 'x2' });
          assert.equal(again.seq, 3);
          assert.deepEqual((await rawEvents(admin, s, 'occ'))!.map((e) => e.seq), [1, 2, 3, 4]);
        } finally {
          await a.close();
          await b.close();
        }
      });

      it('a row held by another transaction: the attempt does not wait on it, the locked path does, then lands once', async () => {
        const s = schema();
        const store = openStore({ url: PG_URL, schema: s });
        const holder = await rawClient();
        try {
          await store.createSession({ id: 'held' });
          await store.addMessage('held', { id: 'h1', role: 'user', content: 'h1' });
          await holder.query('BEGIN');
          await holder.query(`SELECT 1 FROM "${s}".sessions WHERE id = 'held' FOR UPDATE`);
          let landed = false;
          const pending = store.addMessage('held', { id: 'h2', role: 'user', content: 'h2' }).then((m) => {
            landed = true;
            return m;
          });
          await sleep(300);
          assert.equal(landed, false, 'waits for the row lock');
          assert.deepEqual((await rawEvents(admin, s, 'held'))!.map((e) => e.seq), [1, 2]);
          await holder.query('COMMIT');
          const m = await pending;
          assert.equal(m.seq, 3);
          assert.deepEqual((await rawEvents(admin, s, 'held'))!.map((e) => e.seq), [1, 2, 3]);
          // A non-message write (not speculated) and a delete keep the fast path consistent.
          await store.setTitle('held', 'titled');
          const next = await store.addMessage('held', { role: 'user', content: 'h4' });
          assert.equal(next.seq, 5);
          assert.equal((await store.getSessionInfo('held')).title, 'titled');
        } finally {
          await holder.end();
          await store.close();
        }
      });
    });
  });
}
