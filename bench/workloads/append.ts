/**
 * Append vs history length, and append vs the storage limit (a bare write loop), file driver, both
 * durability modes. Every case is timed per call, in interleaved rounds (the case order rotates each
 * round) so drift on a noisy machine hits all cases alike.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { nativeLocks } from '../../src/drivers/file/session-lock.js';
import { buildSessions, fileSize, fileStore, gc, journalPath, logPath, message, sizeLabel, type Durability } from '../lib/fixtures.js';
import { fmtBytes, fmtMs, fmtRatio, rotate, summarize, type Summary } from '../lib/stats.js';
import { target, type Workload } from '../lib/types.js';
import { openStore } from '../../src/store.js';
import { createNullDriver } from '../lib/null-driver.js';
import { workloadRng } from '../lib/random.js';
import { bySize } from '../lib/scale.js';

const workload: Workload = {
  name: 'append',
  title: 'Append vs history length, and vs the storage limit',
  async run(ctx, out) {
    const rng = workloadRng(ctx.config, 'append');
    const sizes = bySize(ctx.config, { full: [100, 10_000, 100_000], quick: [100, 10_000, 100_000], smoke: [20, 100, 300] });
    const modes: Array<{ mode: Durability; appends: number; rounds: number }> = [
      { mode: 'process', ...bySize(ctx.config, { full: { appends: 1000, rounds: 20 }, quick: { appends: 500, rounds: 10 }, smoke: { appends: 20, rounds: 2 } }) },
      { mode: 'full', ...bySize(ctx.config, { full: { appends: 300, rounds: 10 }, quick: { appends: 150, rounds: 10 }, smoke: { appends: 10, rounds: 2 } }) },
    ];
    const dir = ctx.tmpDir;
    const ids = sizes.map((n) => `h${n}`);
    ctx.log(`building sessions of ${sizes.join(', ')} messages`);
    const buildS = await buildSessions(dir, sizes.map((n, i) => ({ id: ids[i]!, count: n })), ctx.log);
    out.notes.push(`setup: ${sizes.map(sizeLabel).join(' + ')} messages built with addMessages(1000) in ${buildS.toFixed(1)} s (durability 'process')`);

    const rows: Array<Array<string | number>> = [];
    const coldRows: Array<Array<string | number>> = [];
    const data: Record<string, unknown> = {};
    let seqNo = 1_000_000;

    for (const { mode, appends, rounds } of modes) {
      gc();
      ctx.log(`durability '${mode}': ${appends} timed appends per case`);
      const store = fileStore(dir, mode);
      const barePath = path.join(dir, `bare-${mode}.jsonl`);
      const fd = fs.openSync(barePath, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
      try {
        // First append on a fresh handle: includes folding the whole session once (cold cache).
        for (const [i, id] of ids.entries()) {
          const t0 = performance.now();
          await store.addMessage(id, message(seqNo++));
          coldRows.push([mode, sizeLabel(sizes[i]!), fmtMs(performance.now() - t0)]);
        }
        // Warm-up (JIT, page cache), then measure the bytes one append writes.
        for (let w = 0; w < 10; w++) for (const id of ids) await store.addMessage(id, message(seqNo++));
        const logBefore = fileSize(logPath(dir, ids[0]!));
        const journalBefore = fileSize(journalPath(dir));
        await store.addMessage(ids[0]!, message(seqNo++));
        const eventLineBytes = fileSize(logPath(dir, ids[0]!)) - logBefore;
        const indexLineBytes = fileSize(journalPath(dir)) - journalBefore;

        // The bare loop writes one JSON line of exactly threadloom's event-line size.
        const proto = { seq: 0, at: '', type: 'message.added', message: { id: rng.uuid(), role: 'user', content: message(0).content as string } };
        const probe = JSON.stringify({ ...proto, at: new Date().toISOString(), seq: 1_000_000 }) + '\n';
        const pad = Math.max(0, eventLineBytes - Buffer.byteLength(probe));
        proto.message.content += 'x'.repeat(pad);
        let bareSeq = 1_000_000;
        const bare = () => {
          const line = JSON.stringify({ ...proto, seq: bareSeq++, at: new Date().toISOString() }) + '\n';
          fs.writeSync(fd, Buffer.from(line, 'utf8'));
          if (mode === 'full') fs.fsyncSync(fd);
        };
        for (let w = 0; w < 10; w++) bare();
        const bareBefore = fileSize(barePath);
        bare();
        const bareLineBytes = fileSize(barePath) - bareBefore;

        // Diagnostics (not targets): the file driver's syscall sequence without its JavaScript, to split
        // threadloom's cost into "storage protocol" and "everything else".
        // reopen: open(O_APPEND) + fstat + write (+ fsync) + close per append, what a cold handle's
        // first append does (a warm one keeps the log's write descriptor open).
        const reopenPath = path.join(dir, `reopen-${mode}.jsonl`);
        fs.closeSync(fs.openSync(reopenPath, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o600));
        const reopen = (line: Buffer) => {
          const f = fs.openSync(reopenPath, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_NOFOLLOW);
          fs.fstatSync(f);
          fs.writeSync(f, line);
          if (mode === 'full') fs.fsyncSync(f);
          fs.closeSync(f);
        };
        // locked: a warm append's syscalls, as SessionLocks, refresh, writeBatch and appendSummary make
        // them: lock the kept lock-file descriptor, lstat the lock path (still that file?) and the log
        // (replaced? grown?), one write (+ fsync) on the kept log descriptor, the index journal line, unlock.
        const lockPath = path.join(dir, `diag-${mode}.lock`);
        const lockFd = fs.openSync(lockPath, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600);
        const keptLogFd = fs.openSync(reopenPath, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_NOFOLLOW);
        const journalFd = fs.openSync(path.join(dir, `diag-journal-${mode}.jsonl`), fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
        const indexLine = Buffer.from('x'.repeat(Math.max(1, indexLineBytes - 1)) + '\n');
        const locked = (line: Buffer) => {
          if (!nativeLocks().tryLock(lockFd)) throw new Error('diag lock is held');
          fs.lstatSync(lockPath, { throwIfNoEntry: false });
          fs.lstatSync(reopenPath, { throwIfNoEntry: false });
          fs.writeSync(keptLogFd, line);
          if (mode === 'full') fs.fsyncSync(keptLogFd);
          fs.writeSync(journalFd, indexLine);
          nativeLocks().unlock(lockFd);
        };
        const diagLine = () => Buffer.from(JSON.stringify({ ...proto, seq: bareSeq++, at: new Date().toISOString() }) + '\n', 'utf8');
        for (let w = 0; w < 10; w++) {
          reopen(diagLine());
          locked(diagLine());
        }

        // core: the store alone, through a driver that stores nothing (validation, ids, fold, summary).
        const core = openStore({ driver: createNullDriver() });
        await core.createSession({ id: 'core' });
        for (let w = 0; w < 50; w++) await core.addMessage('core', message(seqNo++));

        // core after fsync ('full' only): the same store core, timed right after an untimed write+fsync
        // of another file. In a sequential 'full' loop every append's JavaScript runs after the previous
        // append's fsync blocked the thread; this shows what that alone costs the same code.
        const coldPath = path.join(dir, `cold-${mode}.jsonl`);
        const coldFd = fs.openSync(coldPath, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
        const cases = ['bare', 'reopen', 'locked', 'core', ...(mode === 'full' ? ['coreAfterFsync'] : []), ...ids];
        const samples = new Map<string, number[]>(cases.map((c) => [c, []]));
        const perRound = Math.ceil(appends / rounds);
        for (let r = 0; r < rounds; r++) {
          for (const c of rotate(cases, r)) {
            const arr = samples.get(c)!;
            for (let k = 0; k < perRound && arr.length < appends; k++) {
              if (c === 'bare') {
                const t0 = performance.now();
                bare();
                arr.push(performance.now() - t0);
              } else if (c === 'reopen' || c === 'locked') {
                const t0 = performance.now();
                const line = diagLine();
                if (c === 'reopen') reopen(line);
                else locked(line);
                arr.push(performance.now() - t0);
              } else if (c === 'coreAfterFsync') {
                const m = message(seqNo++);
                fs.writeSync(coldFd, diagLine());
                fs.fsyncSync(coldFd);
                const t0 = performance.now();
                await core.addMessage('core', m);
                arr.push(performance.now() - t0);
              } else {
                const m = message(seqNo++);
                const t0 = performance.now();
                await (c === 'core' ? core : store).addMessage(c, m);
                arr.push(performance.now() - t0);
              }
            }
          }
        }
        const stats = new Map<string, Summary>([...samples].map(([c, s]) => [c, summarize(s)]));
        const bareS = stats.get('bare')!;
        const smallS = stats.get(ids[0]!)!;
        const bigS = stats.get(ids[ids.length - 1]!)!;
        fs.closeSync(coldFd);
        fs.closeSync(journalFd);
        fs.closeSync(keptLogFd);
        fs.closeSync(lockFd);
        const fsync = mode === 'full' ? '+fsync' : '';
        rows.push([mode, `bare write${fsync} (${bareLineBytes} B line)`, bareS.n, fmtMs(bareS.p50), fmtMs(bareS.p99), fmtMs(bareS.mean), '', '1.00×']);
        for (const [c, label] of [
          ['reopen', `diag: open+fstat+write${fsync}+close`],
          ['locked', `diag: warm append's syscalls: lock, 2 lstat, write${fsync}, index line, unlock`],
          ['core', 'diag: store core only (null driver)'],
          ['coreAfterFsync', 'diag: store core, right after an untimed write+fsync'],
        ] as const) {
          const s = stats.get(c);
          if (!s) continue;
          rows.push([mode, label, s.n, fmtMs(s.p50), fmtMs(s.p99), fmtMs(s.mean), '', fmtRatio(s.p50 / bareS.p50)]);
        }
        for (const [i, id] of ids.entries()) {
          const s = stats.get(id)!;
          rows.push([
            mode,
            `addMessage @${sizeLabel(sizes[i]!)}`,
            s.n,
            fmtMs(s.p50),
            fmtMs(s.p99),
            fmtMs(s.mean),
            fmtRatio(s.p50 / smallS.p50),
            fmtRatio(s.p50 / bareS.p50),
          ]);
        }
        const hist = bigS.p50 / smallS.p50;
        out.targets.push(
          target(
            'append',
            `append p50 @${sizeLabel(sizes[sizes.length - 1]!)} / @${sizeLabel(sizes[0]!)} ('${mode}')`,
            hist,
            1.5,
            `${fmtMs(bigS.p50)} vs ${fmtMs(smallS.p50)} (p99 ${fmtMs(bigS.p99)} vs ${fmtMs(smallS.p99)})`,
          ),
        );
        const vsBare = smallS.p50 / bareS.p50;
        out.targets.push(
          target(
            'append',
            `addMessage / bare ${mode === 'full' ? 'write+fsync' : 'write'} p50 ('${mode}')`,
            vsBare,
            mode === 'full' ? 1.5 : 3,
            `${fmtMs(smallS.p50)} vs ${fmtMs(bareS.p50)}; threadloom writes ${eventLineBytes} B log + ${indexLineBytes} B index per append`,
          ),
        );
        const lockedS = stats.get('locked')!;
        const coreS = stats.get('core')!;
        const pct = (x: number) => `${((100 * x) / smallS.p50).toFixed(0)}%`;
        out.notes.push(
          `'${mode}': addMessage p50 ${fmtMs(smallS.p50)} = store core ${fmtMs(coreS.p50)} (${pct(coreS.p50)}) + the driver's syscalls (lock, 2 lstat, write${fsync}, index line, unlock) ${fmtMs(lockedS.p50)} (${pct(lockedS.p50)}) ` +
            `+ the rest ${fmtMs(smallS.p50 - coreS.p50 - lockedS.p50)} (${pct(smallS.p50 - coreS.p50 - lockedS.p50)}: driver JS, stat/exists checks, awaits); bare write${fsync} ${fmtMs(bareS.p50)}`,
        );
        const coldCoreS = stats.get('coreAfterFsync');
        if (coldCoreS) {
          out.notes.push(
            `'${mode}': the store core right after an fsync p50 ${fmtMs(coldCoreS.p50)} vs ${fmtMs(coreS.p50)} without (${fmtRatio(coldCoreS.p50 / coreS.p50)}): ` +
              `a thread that just blocked in fsync runs the same JavaScript slower, so 'the rest' is larger in '${mode}' than in 'process'`,
          );
        }
        data[mode] = {
          eventLineBytes,
          indexLineBytes,
          bareLineBytes,
          cases: Object.fromEntries([...stats].map(([c, s]) => [c, s])),
        };
      } finally {
        fs.closeSync(fd);
        await store.close();
      }
    }
    out.tables.push({
      title: 'Per-append latency (interleaved rounds; ratios on p50)',
      columns: ['durability', 'case', 'n', 'p50', 'p99', 'mean', `vs @${sizeLabel(sizes[0]!)}`, 'vs bare'],
      rows,
      leftAlign: [0, 1],
    });
    out.tables.push({
      title: 'First append on a fresh store handle (folds the whole session once; informational)',
      columns: ['durability', 'history', 'time'],
      rows: coldRows,
      leftAlign: [0, 1],
    });
    out.data = data;
    void fmtBytes;
  },
};

export default workload;
