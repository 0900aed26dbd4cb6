/**
 * Part 6, files and secrets.
 * - A session log (or its lock, or the index journal) replaced by a symlink to a file outside the data
 *   dir is never written through: the outside file is unchanged and the call fails typed.
 * - The data dir and every directory under it are 0700, every file 0600 (even with umask 000).
 * - Share tokens: at least 128 bits (decoded length), distinct over 1000 shares, a revoked token stops
 *   working at once (also for another handle), and no listing, export, CLI output, index file or error
 *   ever contains a token.
 * - PostgreSQL: errors for a bad password URL, a refused port, a missing database never contain the
 *   password (message, stack, util.inspect, JSON.stringify, cause chain).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify, inspect } from 'node:util';
import { SessionNotFoundError, SessionStore, StorageError, ThreadloomError, createFileDriver, openStore } from '../../src/index.js';
import { Recorder } from '../lib/recorder.js';
import { ROOT } from '../lib/spawn.js';
import type { ChaosConfig, PartResult } from '../lib/types.js';
import { describeError, tempDir } from '../lib/util.js';
import { pgUnreachable } from '../lib/pg.js';

const run = promisify(execFile);

export async function secrets(config: ChaosConfig): Promise<PartResult> {
  const rec = new Recorder('secrets');
  await symlinks(rec);
  await permissions(rec);
  await shareTokens(rec, config);
  await pgSecrets(rec, config);
  return rec.result();
}

async function symlinks(rec: Recorder): Promise<void> {
  const dir = tempDir('symlink');
  const outsideDir = tempDir('outside');
  const outside = path.join(outsideDir, 'precious.txt');
  const store = openStore({ dir });
  await store.createSession({ id: 's' });
  await store.addMessage('s', { role: 'user', content: 'x' });
  await store.createSession({ id: 't' });
  await store.close();
  const cases: Array<[string, string, (s: SessionStore) => Promise<unknown>[]]> = [
    [
      'session log',
      path.join(dir, 'sessions', 's.jsonl'),
      (s) => [s.addMessage('s', { role: 'user', content: 'y' }), s.setTitle('s', 't'), s.getSession('s'), s.createSession({ id: 's' }), s.deleteSession('s')],
    ],
    ['lock file', path.join(dir, 'sessions', 't.lock'), (s) => [s.addMessage('t', { role: 'user', content: 'y' }), s.setTitle('t', 'x')]],
    ['index journal', path.join(dir, 'index', 'journal.jsonl'), (s) => [s.addMessage('t', { role: 'user', content: 'z' }), s.createSession({ id: 'u' })]],
  ];
  for (const [name, target, ops] of cases) {
    // The outside file looks like a valid log, to tempt a reader into serving or appending to it.
    const bait = fs.existsSync(path.join(dir, 'sessions', 's.jsonl')) && !fs.lstatSync(path.join(dir, 'sessions', 's.jsonl')).isSymbolicLink()
      ? fs.readFileSync(path.join(dir, 'sessions', 's.jsonl'))
      : Buffer.from('{"bait":true}\n');
    fs.writeFileSync(outside, bait);
    const saved = fs.existsSync(target) ? fs.readFileSync(target) : null;
    fs.rmSync(target, { force: true });
    fs.symlinkSync(outside, target);
    const s = new SessionStore(createFileDriver({ dir, lockTimeoutMs: 500 }));
    for (const [i, p] of ops(s).entries()) {
      rec.count('symlinkCalls');
      try {
        await p;
        if (name === 'session log') rec.fail(`${name}: call ${i} through a symlinked log succeeded`);
      } catch (err) {
        if (!(err instanceof ThreadloomError)) rec.fail(`${name}: call ${i}: untyped ${describeError(err)}`);
        else if (name === 'session log' && !(err instanceof StorageError || err instanceof SessionNotFoundError)) {
          rec.fail(`${name}: call ${i}: ${describeError(err)}`);
        }
      }
    }
    await s.close();
    if (!fs.readFileSync(outside).equals(bait)) rec.corrupted(`${name}: the file outside the data dir was written through the symlink`);
    if (!fs.lstatSync(target).isSymbolicLink()) rec.fail(`${name}: the symlink was replaced`);
    fs.rmSync(target, { force: true });
    if (saved && name !== 'lock file') fs.writeFileSync(target, saved, { mode: 0o600 });
  }
}

async function permissions(rec: Recorder): Promise<void> {
  const old = process.umask(0);
  try {
    const dir = path.join(tempDir('perm'), 'data');
    const driver = createFileDriver({ dir, indexCompactMinLines: 5 });
    const store = new SessionStore(driver);
    for (let i = 0; i < 6; i++) {
      await store.createSession({ id: `p${i}` });
      await store.addMessage(`p${i}`, { role: 'user', content: 'secret' });
      await store.listSessions();
    }
    await store.shareSession('p0');
    fs.appendFileSync(path.join(dir, 'sessions', 'p1.jsonl'), '{"seq":9,"at":"x","ty'); // torn tail → quarantine file
    await store.addMessage('p1', { role: 'user', content: 'after' });
    await store.forkSession('p0', { id: 'pf' });
    await store.close();
    const walk = (p: string) => {
      const st = fs.lstatSync(p);
      const mode = st.mode & 0o777;
      rec.count('permissionChecks');
      if (st.isDirectory()) {
        if (mode !== 0o700) rec.fail(`directory ${path.relative(dir, p) || '.'} is ${mode.toString(8)}, not 700`);
        for (const n of fs.readdirSync(p)) walk(path.join(p, n));
      } else if (mode !== 0o600) rec.fail(`file ${path.relative(dir, p)} is ${mode.toString(8)}, not 600`);
    };
    walk(dir);
  } finally {
    process.umask(old);
  }
}

async function shareTokens(rec: Recorder, config: ChaosConfig): Promise<void> {
  const dir = tempDir('share');
  const store = openStore({ dir, durability: 'process' });
  const other = openStore({ dir, durability: 'process' });
  await store.createSession({ id: 'sh', title: 'shared' });
  await store.addMessage('sh', { role: 'user', content: 'hello' });
  const n = config.quick ? 150 : 1000;
  const tokens = new Set<string>();
  let minBits = Infinity;
  for (let i = 0; i < n; i++) {
    const { token } = await store.shareSession('sh');
    if (!/^[A-Za-z0-9_-]+$/.test(token)) rec.fail(`token ${i} is not base64url`);
    minBits = Math.min(minBits, Buffer.from(token, 'base64url').length * 8);
    if (tokens.has(token)) rec.duplicated(`share token repeated after ${i} shares`);
    tokens.add(token);
    if ((await other.getSharedSession(token)).id !== 'sh') rec.fail('a token does not open its session');
    await store.unshareSession('sh');
    // Revoked: at once, for this handle and for another one.
    for (const h of [store, other]) {
      try {
        await h.getSharedSession(token);
        rec.fail(`a revoked token still works (share ${i})`);
      } catch (err) {
        if (!(err instanceof SessionNotFoundError)) rec.fail(`a revoked token gives ${describeError(err)}`);
        else if (leaks(err, tokens)) rec.fail('the error for a revoked token contains the token');
      }
    }
  }
  rec.counters.shareTokens = tokens.size;
  rec.counters.shareTokenMinBits = minBits;
  if (minBits < 128) rec.fail(`share tokens carry only ${minBits} bits`);
  const { token } = await store.shareSession('sh');
  tokens.add(token);
  // Nowhere a token may appear: listing, info, session view, export, errors, index files, CLI output.
  const places: Array<[string, unknown]> = [
    ['listSessions', await store.listSessions()],
    ['getSessionInfo', await store.getSessionInfo('sh')],
    ['getSession', await store.getSession('sh')],
    ['exportSession', await store.exportSession('sh')],
    ['getSharedSession', await store.getSharedSession(token)],
  ];
  const errs: unknown[] = [];
  for (const bad of [token.slice(0, -1), `${token}x`, token.toUpperCase(), 'x'.repeat(300)]) errs.push(await store.getSharedSession(bad).catch((e: unknown) => e));
  errs.push(await store.addMessage('sh', { id: 'dup', role: 'user', content: 'a' }).then(() => store.addMessage('sh', { id: 'dup', role: 'user', content: 'b' })).catch((e: unknown) => e));
  errs.push(await store.revertToSnapshot('sh', 'nope').catch((e: unknown) => e));
  errs.push(await store.setTitle('sh', 'x', { expectedSeq: 1 }).catch((e: unknown) => e));
  errs.push(await store.revertToMessage('sh', 99).catch((e: unknown) => e));
  for (const [i, e] of errs.entries()) places.push([`error ${i}`, e]);
  for (const [name, value] of places) {
    rec.count('tokenLeakChecks');
    if (leaks(value, tokens)) rec.fail(`${name} contains a share token`);
  }
  for (const f of ['index/journal.jsonl', 'index/snapshot.jsonl']) {
    const file = path.join(dir, f);
    if (fs.existsSync(file) && leaks(fs.readFileSync(file, 'utf8'), tokens)) rec.fail(`${f} contains a share token`);
  }
  await store.close();
  await other.close();
  for (const args of [['list', '--json'], ['show', 'sh', '--json'], ['export', 'sh'], ['show', 'sh']]) {
    try {
      const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args, '--dir', dir], { cwd: ROOT });
      rec.count('tokenLeakChecks');
      if (leaks(stdout + stderr, tokens)) rec.fail(`threadloom ${args.join(' ')} prints a share token`);
    } catch (err) {
      rec.fail(`threadloom ${args.join(' ')} failed: ${describeError(err)}`);
    }
  }
  config.log(`  secrets: ${tokens.size} distinct share tokens of >= ${minBits} bits, none leaked`);
}

/** True when any token appears in the value's message, stack, inspect output or JSON. */
function leaks(value: unknown, tokens: ReadonlySet<string>): boolean {
  const texts: string[] = [];
  if (typeof value === 'string') texts.push(value);
  else {
    texts.push(inspect(value, { depth: 20, showHidden: true, getters: true }));
    try {
      texts.push(JSON.stringify(value) ?? '');
    } catch {
      // cycles: inspect covers it
    }
    if (value instanceof Error) {
      texts.push(value.message, value.stack ?? '', String(value));
      let c: unknown = value.cause;
      for (let i = 0; c && i < 10; i++, c = (c as { cause?: unknown }).cause) texts.push(inspect(c, { depth: 20, showHidden: true }), String((c as Error).stack ?? ''));
    }
  }
  const all = texts.join('\n');
  for (const t of tokens) if (all.includes(t)) return true;
  return false;
}

async function pgSecrets(rec: Recorder, config: ChaosConfig): Promise<void> {
  const password = 'Sup3r-S3cret-Pa55word';
  const encoded = 'p%40ss%2Fw0rd-S3cret';
  const reachable = (await pgUnreachable(config.pgUrl)) === null;
  const u = new URL(config.pgUrl);
  const cases: Array<[string, string, string[]]> = [
    ['refused port', `postgres://postgres:${password}@127.0.0.1:1/test`, [password]],
    ['bad port number', `postgres://postgres:${password}@127.0.0.1:99999/test`, [password]],
    ['percent-encoded password, refused', `postgres://postgres:${encoded}@127.0.0.1:1/test`, [encoded, decodeURIComponent(encoded)]],
    ['password in the query string', `postgres://127.0.0.1:1/test?user=postgres&password=${password}`, [password]],
    ['malformed URL', `postgres://postgres:${password}@[not-a-host/test`, [password]],
  ];
  if (reachable) {
    cases.push(
      ['missing database (server answers)', `postgres://postgres:${password}@${u.host}/no_such_db_chaos`, [password]],
      ['unknown user (server answers)', `postgres://no_such_user_chaos:${password}@${u.host}${u.pathname}`, [password]],
    );
  } else {
    rec.skip('secrets (postgres): the server-side error cases need PostgreSQL; only client-side failures were checked');
  }
  for (const [name, url, secrets] of cases) {
    rec.count('pgErrorCases');
    let err: unknown = null;
    let store: SessionStore | null = null;
    try {
      store = openStore({ url, schema: 'tl_chaos_secret' });
      await store.listSessions();
      rec.fail(`postgres ${name}: connecting succeeded`);
    } catch (e) {
      err = e;
    }
    await store?.close().catch(() => undefined);
    if (err === null) continue;
    if (!(err instanceof ThreadloomError)) rec.fail(`postgres ${name}: untyped error ${describeError(err)}`);
    if (leaks(err, new Set(secrets))) rec.fail(`postgres ${name}: the error contains the password: ${describeError(err)}`);
  }
}
