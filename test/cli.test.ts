/**
 * The CLI, run as a real child process against a fresh data directory per test, the way a user or a
 * script runs it. Seeding goes through the library (faster than one process per message); every
 * assertion is about what the CLI prints and how it exits.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Session } from '../src/core/model.js';
import { openStore, type SessionStore } from '../src/store.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const dirs: string[] = [];

after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'threadloom-cli-'));
  dirs.push(d);
  return d;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function env(dir: string): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, THREADLOOM_DIR: dir };
  delete e.THREADLOOM_DEBUG;
  delete e.NODE_TEST_CONTEXT; // keep the child from talking the test runner's protocol
  return e;
}

/**
 * Asynchronous (not spawnSync) so that the tests of this file can overlap: each spends most of its
 * time starting Node processes, and they share nothing but the machine.
 */
function cli(dir: string, args: string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env: env(dir), timeout: 30_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** Runs and asserts exit 0, showing stderr when it is not. */
async function ok(dir: string, args: string[], input?: string): Promise<string> {
  const r = await cli(dir, args, input);
  assert.equal(r.code, 0, `threadloom ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

async function showJson(dir: string, id: string, ...extra: string[]): Promise<Session> {
  return JSON.parse(await ok(dir, ['show', id, '--json', ...extra])) as Session;
}

async function seed<T>(dir: string, fn: (store: SessionStore) => Promise<T>): Promise<T> {
  const store = openStore({ dir, durability: 'process' });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** A root session with `n` alternating user/assistant messages. */
async function conversation(dir: string, id: string, n: number, title: string | null = 'Chat'): Promise<string[]> {
  return seed(dir, async (store) => {
    await store.createSession({ id, title });
    const msgs = await store.addMessages(
      id,
      Array.from({ length: n }, (_, i) => ({ role: i % 2 === 0 ? ('user' as const) : ('assistant' as const), content: `message ${i}` })),
    );
    return msgs.map((m) => m.id);
  });
}

describe('threadloom CLI', { concurrency: 2 }, () => {
  test('demo records sessions, prints the tree and where the files are', async () => {
    const dir = freshDir();
    const out = await ok(dir, ['demo']);
    const id = /Recorded (demo-[0-9a-f]+)/.exec(out)?.[1];
    assert.ok(id, out);
    const forkId = `${id}-fork`;
    assert.match(out, /Session tree/);
    assert.match(out, new RegExp(`${id} .*\\n└── ${forkId}`));
    assert.ok(out.includes(`data directory: ${dir}`), out);
    for (const sid of [id, forkId]) {
      const file = join(dir, 'sessions', `${sid}.jsonl`);
      assert.ok(out.includes(file), `the demo names ${file}`);
      assert.ok(existsSync(file), `${file} exists`);
    }
    assert.match(out, new RegExp(`npx threadloom show ${id}`));

    // What it recorded is real: the other commands see it, and a second run does not collide.
    const show = await ok(dir, ['show', id, '--all']);
    assert.match(show, /→ get_weather\(\{"city":"Paris","unit":"celsius"\}\)/);
    assert.match(show, /result of call_1/);
    assert.match(show, /hidden/);
    const session = await showJson(dir, id);
    assert.equal(session.messageCount, 5);
    assert.equal(session.shared, true);
    assert.equal(session.revert?.hiddenCount, 2);
    const fork = await showJson(dir, forkId);
    assert.equal(fork.parentId, id);
    assert.equal(fork.messageCount, 6);
    await ok(dir, ['demo']);
    assert.equal((JSON.parse(await ok(dir, ['list', '--json'])) as { sessions: unknown[] }).sessions.length, 4);
  });

  test('create, add, list, show, show --json, tree', async () => {
    const dir = freshDir();
    assert.equal((await ok(dir, ['create', '--id', 'chat-1', '--title', 'First chat', '--agent', 'bot', '--user', 'u1'])).trim(), 'chat-1');
    await ok(dir, ['add', 'chat-1', '--role', 'user', '--content', 'Hello there']);
    const msgId = (await ok(dir, ['add', 'chat-1', '--role', 'assistant', '--content', '-'], 'General Kenobi\nsecond line')).trim();
    assert.ok(msgId.length > 0);
    await conversation(dir, 'chat-2', 1, null);

    const list = await ok(dir, ['list']);
    assert.match(list, /^ID\s+TITLE\s+MESSAGES\s+UPDATED\s+PARENT/);
    assert.match(list, /chat-1\s+First chat\s+2\s/);
    assert.match(list, /chat-2\s+-\s+1\s/);
    const page1 = JSON.parse(await ok(dir, ['list', '--json', '--limit', '1'])) as { sessions: Array<{ id: string }>; nextCursor: string };
    assert.equal(page1.sessions.length, 1);
    assert.ok(page1.nextCursor);
    assert.match(await ok(dir, ['list', '--limit', '1']), /more: threadloom list --limit 1 --cursor \S+/);
    const page2 = JSON.parse(await ok(dir, ['list', '--json', '--cursor', page1.nextCursor])) as { sessions: Array<{ id: string }> };
    assert.deepEqual([...page1.sessions, ...page2.sessions].map((s) => s.id).sort(), ['chat-1', 'chat-2']);

    const show = await ok(dir, ['show', 'chat-1']);
    assert.match(show, /Title\s+First chat/);
    assert.match(show, /Agent\s+bot/);
    assert.match(show, /Shared\s+no/);
    assert.match(show, /\[0\] user · .*\n {4}Hello there/);
    assert.match(show, /\[1\] assistant · .*\n {4}General Kenobi\n {4}second line/);
    const session = await showJson(dir, 'chat-1');
    assert.equal(session.id, 'chat-1');
    assert.deepEqual(session.messages.map((m) => m.content), ['Hello there', 'General Kenobi\nsecond line']);
    assert.equal(session.messages[1]!.id, msgId);

    await ok(dir, ['fork', 'chat-1', '--id', 'chat-1b']);
    const tree = await ok(dir, ['tree', 'chat-1']);
    assert.match(tree, /^chat-1 {2}First chat {2}\(2 messages\)\n└── chat-1b {2}Fork of First chat {2}\(2 messages\)/);
  });

  test('fork --at an index and --at a message id', async () => {
    const dir = freshDir();
    const ids = await conversation(dir, 'base', 4);
    const f1 = (await ok(dir, ['fork', 'base', '--at', '1', '--title', 'Branch A'])).trim();
    const a = await showJson(dir, f1);
    assert.deepEqual(a.messages.map((m) => m.id), ids.slice(0, 2));
    assert.equal(a.title, 'Branch A');
    assert.equal(a.parentId, 'base');
    assert.equal(a.forkedFrom?.messageId, ids[1]);

    assert.equal((await ok(dir, ['fork', 'base', '--at', ids[2]!, '--id', 'branch-b'])).trim(), 'branch-b');
    assert.deepEqual((await showJson(dir, 'branch-b')).messages.map((m) => m.id), ids.slice(0, 3));
    assert.match(await ok(dir, ['show', 'branch-b']), /Forked\s+after message /);

    const missing = await cli(dir, ['fork', 'base', '--at', '9']);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /^threadloom: message 9 is out of range/);
  });

  test('snapshot, snapshots, revert --to a snapshot / an index / a message id, unrevert', async () => {
    const dir = freshDir();
    const ids = await conversation(dir, 's', 3);
    const snapId = (await ok(dir, ['snapshot', 's', '--label', 'before more'])).trim();
    await seed(dir, (store) => store.addMessages('s', [{ role: 'user', content: 'more' }, { role: 'assistant', content: 'even more' }]));
    const snaps = await ok(dir, ['snapshots', 's']);
    assert.match(snaps, new RegExp(`${snapId}\\s+before more\\s+3\\s`));

    assert.match(await ok(dir, ['revert', 's', '--to', snapId]), /3 messages shown, 2 hidden/);
    const reverted = JSON.parse(await ok(dir, ['show', 's', '--json', '--all'])) as Session & { allMessages: unknown[] };
    assert.equal(reverted.messageCount, 3);
    assert.equal(reverted.messages.length, 3);
    assert.equal(reverted.allMessages.length, 5);
    assert.equal(reverted.revert?.snapshotId, snapId);
    assert.match(await ok(dir, ['show', 's']), new RegExp(`Revert\\s+to snapshot ${snapId}, 2 messages hidden`));

    assert.match(await ok(dir, ['unrevert', 's']), /restored 2 messages/);
    assert.equal((await showJson(dir, 's')).messageCount, 5);
    assert.match(await ok(dir, ['unrevert', 's']), /no pending revert/);

    await ok(dir, ['revert', 's', '--to', '1']);
    assert.deepEqual((await showJson(dir, 's')).messages.map((m) => m.id), ids.slice(0, 2));
    await ok(dir, ['revert', 's', '--to', ids[0]!]);
    assert.deepEqual((await showJson(dir, 's')).messages.map((m) => m.id), ids.slice(0, 1));

    const bad = await cli(dir, ['revert', 's', '--to', 'no-such-thing']);
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /threadloom: message "no-such-thing" not found/);
  });

  test('title, share (token printed only there), unshare', async () => {
    const dir = freshDir();
    await conversation(dir, 't', 2);
    assert.match(await ok(dir, ['title', 't', 'Renamed chat']), /titled t/);
    assert.match(await ok(dir, ['show', 't']), /Title\s+Renamed chat/);

    const token = (await ok(dir, ['share', 't'])).trim();
    assert.match(token, /^[A-Za-z0-9_-]{40,}$/);
    const show = await ok(dir, ['show', 't']);
    assert.match(show, /Shared\s+yes/);
    for (const out of [show, await ok(dir, ['show', 't', '--json', '--all']), await ok(dir, ['list', '--json']), await ok(dir, ['export', 't'])]) {
      assert.ok(!out.includes(token), 'the token appears nowhere but in `share`');
    }

    assert.match(await ok(dir, ['unshare', 't']), /unshared t/);
    assert.match(await ok(dir, ['show', 't']), /Shared\s+no/);
  });

  test('export -o then import --id round-trips', async () => {
    const dir = freshDir();
    await conversation(dir, 'orig', 3);
    await seed(dir, async (store) => {
      await store.createSnapshot('orig', { label: 'snap' });
      await store.addMessage('orig', { role: 'user', content: 'later' });
      await store.revertToMessage('orig', 2);
    });
    const file = join(dir, 'orig.json');
    assert.match(await ok(dir, ['export', 'orig', '-o', file]), /exported orig to /);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { format: string };
    assert.equal(doc.format, 'threadloom.session');
    assert.deepEqual(JSON.parse(await ok(dir, ['export', 'orig'])).events, JSON.parse(readFileSync(file, 'utf8')).events);

    assert.match(await ok(dir, ['import', file, '--id', 'copy']), /imported orig\.json as copy \(3 messages\)/);
    const strip = (s: Session) => {
      const { id: _id, createdAt: _c, updatedAt: _u, ...rest } = s;
      return rest;
    };
    assert.deepEqual(strip(await showJson(dir, 'copy', '--all')), strip(await showJson(dir, 'orig', '--all')));

    const again = await cli(dir, ['import', file, '--id', 'copy']);
    assert.equal(again.code, 4);
    assert.match(again.stderr, /threadloom: session already exists: "copy"/);
  });

  test('import a reference-store file, and a folder with a good and a bad file', async () => {
    const dir = freshDir();
    const ref = join(dir, 'ref.json');
    writeFileSync(
      ref,
      '{"session_id":"ref-1","title":"Old","messages":[{"role":"user","content":"hi","timestamp":1700000000.5,"metadata":{}},' +
        '{"role":"assistant","content":"hello","timestamp":1700000001.0,"metadata":{}}],"snapshots":[],' +
        '"created_at":"2023-11-14T22:13:20+00:00","updated_at":"2023-11-14T22:13:21+00:00","agent_name":null,"user_id":null,"metadata":{}}',
    );
    assert.match(await ok(dir, ['import', ref]), /imported ref\.json as ref-1 \(2 messages\)/);
    const s = await showJson(dir, 'ref-1');
    assert.equal(s.title, 'Old');
    assert.deepEqual(s.messages.map((m) => [m.role, m.content]), [['user', 'hi'], ['assistant', 'hello']]);
    assert.equal(s.messages[0]!.createdAt, '2023-11-14T22:13:20.500Z');

    const folder = join(dir, 'incoming');
    mkdirSync(folder);
    writeFileSync(join(folder, 'good.json'), readFileSync(ref, 'utf8').replace('"ref-1"', '"ref-2"'));
    writeFileSync(join(folder, 'bad.json'), '{"messages": "not a list"');
    writeFileSync(join(folder, 'again.json'), readFileSync(ref, 'utf8'));
    writeFileSync(join(folder, 'notes.txt'), 'ignored');
    const r = await cli(dir, ['import', folder]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /imported\s+good\.json\s+ref-2 \(2 messages\)/);
    assert.match(r.stdout, /failed\s+bad\.json\s+bad\.json is not valid JSON/);
    assert.match(r.stdout, /skipped\s+again\.json\s+exists, skipped/);
    assert.match(r.stdout, /3 files: 1 imported, 1 skipped, 1 failed/);
    assert.match(r.stderr, /threadloom: 1 of 3 files failed to import/);
    assert.equal((await showJson(dir, 'ref-2')).messageCount, 2);

    assert.equal((await cli(dir, ['import', folder, '--id', 'x'])).code, 2);
    const missing = await cli(dir, ['import', join(dir, 'nope.json')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /threadloom: cannot read .*nope\.json: no such file/);
  });

  test('delete keeps children (detached); delete --cascade removes the subtree', async () => {
    const dir = freshDir();
    await conversation(dir, 'p', 2);
    await ok(dir, ['fork', 'p', '--id', 'c']);
    assert.match(await ok(dir, ['delete', 'p']), /deleted p; 1 child session kept/);
    assert.equal((await cli(dir, ['show', 'p'])).code, 3);
    const c = await showJson(dir, 'c');
    assert.equal(c.parentId, null);
    assert.equal(c.messageCount, 2);

    await seed(dir, async (store) => {
      await store.addMessage('c', { role: 'user', content: 'in c' });
      await store.forkSession('c', { id: 'c1' });
      await store.addMessage('c1', { role: 'user', content: 'in c1' });
      await store.forkSession('c1', { id: 'c2' });
    });
    assert.match(await ok(dir, ['delete', 'c', '--cascade']), /deleted c and 2 descendants/);
    assert.match(await ok(dir, ['list']), /^no sessions$/m);

    await conversation(dir, 'k', 2);
    assert.match(await ok(dir, ['clear', 'k']), /cleared k: 2 messages hidden/);
    assert.equal((await showJson(dir, 'k')).messageCount, 0);
  });

  test('errors: clear message on stderr, no stack, distinct exit codes', async () => {
    const dir = freshDir();
    const missing = await cli(dir, ['show', 'nope']);
    assert.equal(missing.code, 3);
    assert.equal(missing.stderr, 'threadloom: session not found: "nope"\n');
    assert.equal(missing.stdout, '');

    const invalid = await cli(dir, ['show', '../x']);
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /^threadloom: invalid id: /);
    assert.doesNotMatch(invalid.stderr, /\n\s+at /);

    const unknown = await cli(dir, ['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);

    assert.equal((await cli(dir, [])).code, 2);
    assert.equal((await cli(dir, ['list', '--limit', 'ten'])).code, 2);
    assert.equal((await cli(dir, ['--durability', 'sometimes', 'list'])).code, 2);
    assert.equal((await cli(dir, ['add', 'x', '--role', 'wizard', '--content', 'hi'])).code, 2);
    assert.equal((await cli(dir, ['revert', 'x'])).code, 2, '--to is required');

    await conversation(dir, 'e', 1);
    const exists = await cli(dir, ['create', '--id', 'e']);
    assert.equal(exists.code, 4);
    assert.match(exists.stderr, /^threadloom: session already exists: "e"/);

    // --dir overrides $THREADLOOM_DIR, also after the command name.
    const other = freshDir();
    await conversation(other, 'elsewhere', 1);
    assert.equal((await cli(dir, ['show', 'elsewhere'])).code, 3);
    assert.equal((await cli(dir, ['show', 'elsewhere', '--dir', other])).code, 0);
    assert.equal((await cli(dir, ['--dir', other, 'show', 'elsewhere'])).code, 0);
  });

  test('--help works for every command', async () => {
    const dir = freshDir();
    const top = await ok(dir, ['--help']);
    const commands = [...top.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    for (const expected of ['list', 'show', 'tree', 'fork', 'snapshot', 'snapshots', 'revert', 'unrevert', 'title', 'share', 'unshare', 'delete', 'clear', 'add', 'create', 'export', 'import', 'demo', 'doctor']) {
      assert.ok(commands.includes(expected), `${expected} is listed in --help`);
    }
    const run = promisify(execFile);
    await Promise.all(
      commands.map(async (c) => {
        const { stdout } = await run(process.execPath, [...CLI, c, '--help'], { cwd: ROOT, env: env(dir) });
        assert.match(stdout, new RegExp(`^Usage: threadloom ${c}`), c);
        assert.match(stdout, /--dir <path>/, `${c} --help shows the global options`);
      }),
    );
    assert.match(await ok(dir, ['--version']), /^\d+\.\d+\.\d+/);
  });

  test('doctor: healthy store, then a garbage log and a torn tail', async () => {
    const dir = freshDir();
    await conversation(dir, 'good', 3);
    await conversation(dir, 'other', 1);
    const healthy = await cli(dir, ['doctor']);
    assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
    assert.match(healthy.stdout, /checked 2 sessions/);
    assert.match(healthy.stdout, /healthy\s+2/);

    writeFileSync(join(dir, 'sessions', 'bad.jsonl'), 'this is not a log\n\u0000\u0001garbage');
    appendFileSync(join(dir, 'sessions', 'good.jsonl'), '{"type":"message.added","seq":5,"at":"2024-01-0');
    const damaged = await cli(dir, ['doctor']);
    assert.equal(damaged.code, 1, damaged.stdout + damaged.stderr);
    assert.match(damaged.stdout, /quarantined\s+1/);
    assert.match(damaged.stdout, /repaired\s+1/);
    assert.match(damaged.stdout, /good: incomplete last write .*cut bytes were kept at \S+/);
    const quarantined = /bad: .*moved to (\S+)/.exec(damaged.stdout)?.[1];
    assert.ok(quarantined && existsSync(quarantined), damaged.stdout);
    assert.ok(!existsSync(join(dir, 'sessions', 'bad.jsonl')), 'the damaged log was moved aside');
    const good = await showJson(dir, 'good');
    assert.deepEqual(good.messages.map((m) => m.content), ['message 0', 'message 1', 'message 2']);

    // Everything was dealt with: a second run finds a healthy store.
    const json = JSON.parse(await ok(dir, ['doctor', '--json'])) as { ok: boolean; checked: number; quarantined: number };
    assert.equal(json.ok, true);
    assert.equal(json.quarantined, 0);
    assert.equal(json.checked, 2);
  });
});
