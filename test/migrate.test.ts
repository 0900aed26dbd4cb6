/**
 * Moving sessions between stores: `threadloom migrate` file -> file, and file -> PostgreSQL -> file,
 * with counts verified and the source left byte-for-byte untouched.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { openStore, type SessionStore } from '../src/index.js';
import { freshSchema, PG_URL, requirePostgres } from './helpers/pg.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'threadloom-migrate-'));
  dirs.push(d);
  return d;
}

function cli(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', cwd: join(import.meta.dirname, '..') });
}

/** A small but complete store: a root with a snapshot and a pending revert, a fork, a plain child, a share. */
async function seed(store: SessionStore): Promise<void> {
  await store.createSession({ id: 'root', title: 'Root', agentName: 'a', metadata: { k: 1 } });
  for (let i = 0; i < 5; i++) await store.addMessage('root', { role: i % 2 ? 'assistant' : 'user', content: `r${i}` });
  await store.createSnapshot('root', { label: 'five' });
  await store.addMessage('root', { role: 'user', content: 'r5' });
  await store.forkSession('root', { id: 'fork', atIndex: 2 });
  await store.addMessage('fork', { role: 'user', content: 'f-own' });
  await store.createSession({ id: 'child', parentId: 'root' });
  await store.revertToMessage('root', 3);
  await store.shareSession('root');
}

function logBytes(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(join(dir, 'sessions'))) if (f.endsWith('.jsonl')) out.set(f, readFileSync(join(dir, 'sessions', f), 'latin1'));
  return out;
}

async function assertSameSessions(a: SessionStore, b: SessionStore): Promise<void> {
  for (const id of ['root', 'fork', 'child']) {
    const [x, y] = [await a.getSession(id), await b.getSession(id)];
    assert.deepEqual(y.messages, x.messages, id);
    assert.deepEqual(await b.getMessages(id, { includeReverted: true }), await a.getMessages(id, { includeReverted: true }), id);
    assert.equal(y.title, x.title);
    assert.deepEqual(y.snapshots, x.snapshots);
    assert.deepEqual(y.revert, x.revert);
    assert.equal(y.parentId, x.parentId, `${id} keeps its parent link`);
    assert.equal(y.shared, false, 'share state is not migrated');
  }
}

describe('migrate', () => {
  it('copies a file store to another directory, verified, leaving the source untouched', async () => {
    const from = tempDir();
    const to = tempDir();
    const source = openStore({ dir: from });
    await seed(source);
    const before = logBytes(from);
    const r = cli('migrate', '--from', from, '--to', to, '--json');
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { copied: string[]; failed: unknown[] };
    assert.deepEqual(report.copied.sort(), ['child', 'fork', 'root']);
    assert.deepEqual(report.failed, []);
    assert.deepEqual(logBytes(from), before, 'the source is only read');
    const target = openStore({ dir: to });
    await assertSameSessions(source, target);
    // A second run skips what exists and overwrites nothing.
    const again = cli('migrate', '--from', from, '--to', to, '--json');
    assert.equal(again.status, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { skipped: unknown[] }).skipped.length, 3);
    await source.close();
    await target.close();
  });

  it('file -> PostgreSQL -> file round trip', async (t) => {
    if (!(await requirePostgresQuietly())) return t.skip('PostgreSQL not reachable; set THREADLOOM_PG_URL');
    const schema = freshSchema('tl_migrate');
    const url = PG_URL;
    try {
      const from = tempDir();
      const back = tempDir();
      const source = openStore({ dir: from });
      await seed(source);
      const up = cli('migrate', '--from', from, '--to', url, '--schema', schema, '--json');
      assert.equal(up.status, 0, up.stderr);
      assert.equal((JSON.parse(up.stdout) as { copied: string[] }).copied.length, 3);
      const inPg = openStore({ url, schema });
      await assertSameSessions(source, inPg);
      const down = cli('migrate', '--from', url, '--to', back, '--schema', schema, '--json');
      assert.equal(down.status, 0, down.stderr);
      await assertSameSessions(source, openStore({ dir: back }));
      await inPg.close();
      await source.close();
    } finally {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    }
  });
});

/** requirePostgres registers its own failing test in CI when PostgreSQL is down; here we only ask. */
async function requirePostgresQuietly(): Promise<boolean> {
  if (process.env.THREADLOOM_REQUIRE_SERVICES === '1') return requirePostgres();
  const { pgUnreachable } = await import('./helpers/pg.js');
  return (await pgUnreachable()) === null;
}
