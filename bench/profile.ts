/**
 * Runs one hot loop for profiling, outside the timed suite:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/profile.ts <scenario> [iterations]
 *   node --import tsx bench/cpuprofile-top.ts /tmp/prof/*.cpuprofile
 *   strace -f -c -o /tmp/sys.txt node --import tsx bench/profile.ts append-process 2000
 *
 * Scenarios: append-phases-process, append-phases-full (where an append's time goes, by phase and
 * syscall), append-fs-process, append-fs-full (every node:fs call timed), append-process, append-full (addMessage on a 1 000-message session), fork-deep (forkSession
 * at the middle of a 100 000-message session), cold-open (first getMessages of a 100 000-message
 * session on a new handle), create (createSession).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { createFileDriver, type FileIO } from '../src/drivers/file.js';
import { openStore, type SessionStore } from '../src/store.js';
import { buildSessions, fileStore, message, type Durability } from './lib/fixtures.js';
import { createNullDriver } from './lib/null-driver.js';
import { benchTmpDir } from './lib/tmpdir.js';

/**
 * Phase timing of addMessage without touching src/: the file driver's write-path syscalls go through
 * its `io` seam, which is wrapped here with timers (per call and per file kind); the store core alone
 * is timed through a driver that stores nothing.
 */
async function appendPhases(dir: string, n: number, durability: Durability): Promise<number> {
  await buildSessions(dir, [{ id: 's', count: 1000 }], () => undefined);
  const timers = new Map<string, { calls: number; ms: number }>();
  const fdKind = new Map<number, string>();
  const kindOf = (p: string) => (p.endsWith('.lock') ? 'lock' : p.includes('journal') ? 'index' : p.endsWith('.jsonl') ? 'log' : 'dir');
  const timed = <A extends unknown[], R>(name: string, kind: (first: A[0]) => string, fn: (...a: A) => R) => (...a: A): R => {
    const t0 = performance.now();
    try {
      return fn(...a);
    } finally {
      const key = `${name} ${kind(a[0])}`;
      const e = timers.get(key) ?? { calls: 0, ms: 0 };
      e.calls++;
      e.ms += performance.now() - t0;
      timers.set(key, e);
    }
  };
  const byFd = (fd: number) => fdKind.get(fd) ?? '?';
  const io: Partial<FileIO> = {
    openSync: timed('open', (p: string) => kindOf(p), (p: string, flags: number, mode?: number) => {
      const fd = fs.openSync(p, flags, mode);
      fdKind.set(fd, kindOf(p));
      return fd;
    }),
    writeSync: timed('write', (fd: number) => byFd(fd), (fd: number, b: Uint8Array, o?: number, l?: number, pos?: number | null) => fs.writeSync(fd, b, o, l, pos)),
    fsyncSync: timed('fsync', (fd: number) => byFd(fd), (fd: number) => fs.fsyncSync(fd)),
    closeSync: timed('close', (fd: number) => byFd(fd), (fd: number) => fs.closeSync(fd)),
    fstatSync: timed('fstat', (fd: number) => byFd(fd), (fd: number) => fs.fstatSync(fd)),
    unlinkSync: timed('unlink', (p: string) => kindOf(p), (p: string) => fs.unlinkSync(p)),
  };
  const run = async (store: ReturnType<typeof openStore>, id: string) => {
    for (let i = 0; i < 200; i++) await store.addMessage(id, message(i));
    timers.clear();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await store.addMessage(id, message(i));
    return performance.now() - t0;
  };
  const core = openStore({ driver: createNullDriver() });
  await core.createSession({ id: 's' });
  const coreMs = await run(core, 's');
  // Wrap the driver: time inside append() and inside the store's plan callback.
  const file = createFileDriver({ dir, durability, io });
  const inAppend = { ms: 0, planMs: 0, readAfterMs: 0, headMs: 0 };
  const driver = Object.create(file) as typeof file;
  driver.append = async (id, mode, plan) => {
    const t0 = performance.now();
    try {
      return await file.append(id, mode, async (tx) => {
        const p0 = performance.now();
        const wrappedTx = {
          headSeq: tx.headSeq,
          readAfter: async (after: number) => {
            const r0 = performance.now();
            try {
              return await tx.readAfter(after);
            } finally {
              inAppend.readAfterMs += performance.now() - r0;
            }
          },
        };
        try {
          return await plan(wrappedTx);
        } finally {
          inAppend.planMs += performance.now() - p0;
        }
      });
    } finally {
      inAppend.ms += performance.now() - t0;
    }
  };
  const store = openStore({ driver });
  await run(store, 's');
  inAppend.ms = inAppend.planMs = inAppend.readAfterMs = 0;
  const totalMs = await run(store, 's');
  await store.close();
  const us = (ms: number) => ((ms / n) * 1000).toFixed(1).padStart(7);
  console.log(`addMessage, durability '${durability}', ${n} appends: ${us(totalMs)} µs each`);
  console.log(`  store core alone (null driver):            ${us(coreMs)} µs`);
  let ioMs = 0;
  for (const [k, v] of [...timers].sort((a, b) => b[1].ms - a[1].ms)) {
    ioMs += v.ms;
    console.log(`  ${k.padEnd(14)} ${(v.calls / n).toFixed(2)} calls/append ${us(v.ms)} µs`);
  }
  console.log(`  write-path syscalls through io, total:     ${us(ioMs)} µs`);
  console.log(`  time in driver.append():                   ${us(inAppend.ms)} µs`);
  console.log(`    of which the store's plan callback:      ${us(inAppend.planMs)} µs (tx.readAfter ${us(inAppend.readAfterMs)} µs)`);
  console.log(`    of which io syscalls:                    ${us(ioMs)} µs`);
  console.log(`    driver's own remainder:                  ${us(inAppend.ms - inAppend.planMs - ioMs)} µs (lock and unlock (not through io), lstat checks, encode, awaits)`);
  console.log(`  store outside driver.append():             ${us(totalMs - inAppend.ms)} µs (validation, mutex, result views)`);
  return totalMs;
}

/**
 * Every node:fs call (and crypto.randomBytes) made during addMessage, timed by function: patches the
 * builtin modules (syncBuiltinESMExports) so the driver's own imports see the timers.
 */
async function appendFsCalls(dir: string, n: number, durability: Durability): Promise<number> {
  await buildSessions(dir, [{ id: 's', count: 1000 }], () => undefined);
  const require = createRequire(import.meta.url);
  const fsMod = require('node:fs') as Record<string, unknown>;
  const cryptoMod = require('node:crypto') as Record<string, unknown>;
  const timers = new Map<string, { calls: number; ms: number }>();
  let depth = 0;
  const patch = (mod: Record<string, unknown>, name: string, label: string) => {
    const orig = mod[name] as (...a: unknown[]) => unknown;
    mod[name] = function (this: unknown, ...a: unknown[]) {
      if (depth > 0) return orig.apply(this, a);
      depth++;
      const t0 = performance.now();
      try {
        return orig.apply(this, a);
      } finally {
        depth--;
        const e = timers.get(label) ?? { calls: 0, ms: 0 };
        e.calls++;
        e.ms += performance.now() - t0;
        timers.set(label, e);
      }
    };
  };
  for (const f of ['openSync', 'closeSync', 'writeSync', 'readSync', 'fstatSync', 'lstatSync', 'statSync', 'existsSync', 'unlinkSync', 'fsyncSync', 'ftruncateSync', 'renameSync', 'mkdirSync']) patch(fsMod, f, `fs.${f}`);
  patch(cryptoMod, 'randomBytes', 'crypto.randomBytes');
  syncBuiltinESMExports();
  const store = fileStore(dir, durability);
  for (let i = 0; i < 200; i++) await store.addMessage('s', message(i));
  timers.clear();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await store.addMessage('s', message(i));
  const totalMs = performance.now() - t0;
  await store.close();
  const us = (ms: number) => ((ms / n) * 1000).toFixed(1).padStart(7);
  console.log(`addMessage, durability '${durability}', ${n} appends: ${us(totalMs)} µs each (every fs call timed, so a little slower)`);
  let sum = 0;
  for (const [k, v] of [...timers].sort((a, b) => b[1].ms - a[1].ms)) {
    sum += v.ms;
    console.log(`  ${k.padEnd(20)} ${(v.calls / n).toFixed(2)} calls/append ${us(v.ms)} µs`);
  }
  console.log(`  all of the above:                       ${us(sum)} µs; JavaScript and awaits: ${us(totalMs - sum)} µs`);
  return totalMs;
}

/** `n` warm single appends to session 's' of `store` (closed afterwards); milliseconds spent. */
async function timedAppends(store: SessionStore, n: number): Promise<number> {
  await store.addMessage('s', message(0));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await store.addMessage('s', message(i));
  const ms = performance.now() - t0;
  await store.close();
  return ms;
}

async function fileAppends(dir: string, n: number, durability: Durability): Promise<number> {
  await buildSessions(dir, [{ id: 's', count: 1000 }], () => undefined);
  return timedAppends(fileStore(dir, durability), n);
}

const scenarios: Record<string, (dir: string, n: number) => Promise<number>> = {
  'append-process': (dir, n) => fileAppends(dir, n, 'process'),
  'append-full': (dir, n) => fileAppends(dir, n, 'full'),
  async 'append-null'(_dir, n) {
    const store = openStore({ driver: createNullDriver() });
    await store.createSession({ id: 's' });
    return timedAppends(store, n);
  },
  async 'fork-deep'(dir, n) {
    await buildSessions(dir, [{ id: 'p', count: 100_000 }], () => undefined);
    const store = fileStore(dir, 'process');
    await store.getSessionInfo('p');
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await store.forkSession('p', { atIndex: 49_999, id: `f${i}` });
    const ms = performance.now() - t0;
    await store.close();
    return ms;
  },
  async 'cold-open'(dir, n) {
    await buildSessions(dir, [{ id: 'p', count: 100_000 }], () => undefined);
    let ms = 0;
    for (let i = 0; i < n; i++) {
      const store = fileStore(dir, 'process');
      const t0 = performance.now();
      await store.getMessages('p', { limit: 50 });
      ms += performance.now() - t0;
      await store.close();
    }
    return ms;
  },
  'append-phases-process': (dir, n) => appendPhases(dir, n, 'process'),
  'append-fs-process': (dir, n) => appendFsCalls(dir, n, 'process'),
  'append-fs-full': (dir, n) => appendFsCalls(dir, n, 'full'),
  'append-phases-full': (dir, n) => appendPhases(dir, n, 'full'),
  async create(dir, n) {
    const store = fileStore(dir, 'process');
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await store.createSession({ id: `s${i}`, title: `session ${i}`, agentName: 'bench' });
    const ms = performance.now() - t0;
    await store.close();
    return ms;
  },
};

const defaults: Record<string, number> = { 'append-fs-process': 5_000, 'append-fs-full': 1_000, 'append-phases-process': 5_000, 'append-phases-full': 1_000, 'append-process': 20_000, 'append-null': 50_000, 'append-full': 3_000, 'fork-deep': 30, 'cold-open': 5, create: 20_000 };

async function main(): Promise<void> {
  const [name, count] = process.argv.slice(2);
  const run = name ? scenarios[name] : undefined;
  if (!name || !run) {
    console.error(`usage: profile.ts <${Object.keys(scenarios).join('|')}> [iterations]`);
    process.exit(2);
  }
  const n = count ? Number(count) : defaults[name]!;
  const dir = fs.mkdtempSync(path.join(benchTmpDir(), 'threadloom-profile-'));
  try {
    const ms = await run(dir, n);
    console.log(`${name}: ${n} iterations in ${ms.toFixed(0)} ms (${((ms / n) * 1000).toFixed(1)} µs each)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
