/**
 * Part 2, simulated power loss (file driver). A log is cut at every byte offset within its last few
 * events, and separately its tail is replaced by NULs (what a filesystem can show after a power cut:
 * the size was updated, the data blocks were not). For each damaged log a fresh store must serve
 * exactly the complete events before the cut (whole batches only), not touch the file while reading,
 * accept the next append on a clean line, and quarantine exactly the cut-off bytes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openStore, type CorruptionReport, type SessionStore } from '../../src/index.js';
import { firstDifference } from '../lib/ledger.js';
import { foldModel, parseRawLog, resolvePrefix, type RawEvent } from '../lib/rawlog.js';
import { Recorder } from '../lib/recorder.js';
import type { ChaosConfig, PartResult } from '../lib/types.js';
import { describeError, tempDir } from '../lib/util.js';

export async function powerLoss(config: ChaosConfig): Promise<PartResult> {
  const rec = new Recorder('power-loss');
  const src = tempDir('power-src');
  await buildLogs(src);
  const logs = new Map<string, Buffer>();
  for (const id of ['p', 'pf']) logs.set(id, fs.readFileSync(path.join(src, 'sessions', `${id}.jsonl`)));
  const parsed = new Map<string, RawEvent[]>();
  for (const [id, buf] of logs) parsed.set(id, parseRawLog(buf).events);
  const lastEvents = config.quick ? 4 : 8;
  const stride = config.quick ? 5 : 1;
  for (const id of config.quick ? ['p'] : ['p', 'pf']) {
    const original = logs.get(id)!;
    const { lineStarts, groupEnds } = layout(original);
    const regionStart = lineStarts[Math.max(1, lineStarts.length - lastEvents)]!;
    for (let cut = regionStart; cut < original.length; cut += stride) {
      await checkCase(rec, src, logs, parsed, id, 'truncate', cut, original.subarray(0, cut), groupEnds);
    }
    for (let at = regionStart; at < original.length; at += stride) {
      const bytes = Buffer.concat([original.subarray(0, at), Buffer.alloc(original.length - at)]);
      await checkCase(rec, src, logs, parsed, id, 'nul-tail', at, bytes, groupEnds);
    }
    // The size grew past the data (delayed allocation): whole zeroed blocks after the last write.
    for (const at of lineStarts.slice(-lastEvents)) {
      const bytes = Buffer.concat([original.subarray(0, at), Buffer.alloc(4096)]);
      await checkCase(rec, src, logs, parsed, id, 'nul-extension', at, bytes, groupEnds);
    }
  }
  await firstWriteCut(rec, config, logs.get('p')!);
  config.log(
    `  power-loss: ${rec.counters['cases.truncate'] ?? 0} truncations, ${rec.counters['cases.nul-tail'] ?? 0} NUL tails, ` +
      `${rec.counters['cases.nul-extension'] ?? 0} NUL extensions, ${rec.counters['cases.first-write'] ?? 0} cut first writes`,
  );
  return rec.result();
}

/** A root log and a fork's log with singles, batches of 2-5, title, snapshot, revert, share. */
async function buildLogs(dir: string): Promise<void> {
  const store = openStore({ dir });
  const msg = (id: string) => ({ id, role: 'user' as const, content: `content of ${id} with ünïcödé and "quotes"\nand a newline` });
  await store.createSession({ id: 'p', title: 'power' });
  await store.addMessage('p', msg('p1'));
  await store.addMessages('p', ['p2', 'p3', 'p4'].map(msg));
  await store.setTitle('p', 'power 2');
  await store.addMessages('p', ['p5', 'p6', 'p7', 'p8', 'p9'].map(msg));
  await store.createSnapshot('p', { label: 'snap' });
  await store.addMessage('p', msg('p10'));
  await store.revertToMessage('p', 'p6');
  await store.addMessages('p', ['p11', 'p12'].map(msg));
  await store.shareSession('p');
  await store.addMessages('p', ['p13', 'p14', 'p15'].map(msg));
  await store.addMessage('p', msg('p16'));
  await store.forkSession('p', { id: 'pf', atMessageId: 'p12' });
  await store.addMessage('pf', msg('f1'));
  await store.addMessages('pf', ['f2', 'f3', 'f4', 'f5'].map(msg));
  await store.setTitle('pf', 'fork');
  await store.addMessages('pf', ['f6', 'f7'].map(msg));
  await store.addMessage('pf', msg('f8'));
  await store.close();
}

function layout(buf: Buffer): { lineStarts: number[]; groupEnds: number[] } {
  const lineStarts: number[] = [];
  const groupEnds: number[] = [];
  let pos = 0;
  while (pos < buf.length) {
    lineStarts.push(pos);
    const nl = buf.indexOf(0x0a, pos);
    const line = JSON.parse(buf.toString('utf8', pos, nl)) as { more?: boolean };
    pos = nl + 1;
    if (line.more !== true) groupEnds.push(pos);
  }
  return { lineStarts, groupEnds };
}

async function checkCase(
  rec: Recorder,
  src: string,
  logs: ReadonlyMap<string, Buffer>,
  parsed: ReadonlyMap<string, RawEvent[]>,
  id: string,
  kind: string,
  at: number,
  damaged: Buffer,
  groupEnds: readonly number[],
): Promise<void> {
  rec.count(`cases.${kind}`);
  const where = `${kind} of ${id} at byte ${at}`;
  const dir = path.join(src, `case-${kind}-${id}-${at}`);
  fs.mkdirSync(path.join(dir, 'sessions'), { recursive: true, mode: 0o700 });
  for (const [other, buf] of logs) if (other !== id) fs.writeFileSync(path.join(dir, 'sessions', `${other}.jsonl`), buf, { mode: 0o600 });
  const file = path.join(dir, 'sessions', `${id}.jsonl`);
  fs.writeFileSync(file, damaged, { mode: 0o600 });
  // What must survive: the complete groups before the damage.
  const validEnd = groupEnds.filter((e) => e <= at).pop() ?? 0;
  const original = logs.get(id)!;
  const expected = parseRawLog(original.subarray(0, validEnd)).events;
  const events = new Map(parsed);
  events.set(id, expected);
  const model = foldModel(expected, resolvePrefix(id, events));
  const reports: CorruptionReport[] = [];
  const open = (): SessionStore => openStore({ dir, durability: 'process', onCorruption: (r) => reports.push(r) });
  const reader = open();
  try {
    const all = (await reader.getMessages(id, { includeReverted: true })).map((m) => m.id);
    const visible = (await reader.getMessages(id)).map((m) => m.id);
    const info = await reader.getSessionInfo(id);
    const d = firstDifference(all, model.all.map((m) => m.id)) ?? firstDifference(visible, model.visible.map((m) => m.id));
    if (d) rec.corrupted(`${where}: served ${d}`);
    if (info.headSeq !== model.headSeq) rec.corrupted(`${where}: head ${info.headSeq}, expected ${model.headSeq}`);
    if (info.title !== model.title) rec.corrupted(`${where}: title ${JSON.stringify(info.title)}, expected ${JSON.stringify(model.title)}`);
    if (!fs.readFileSync(file).equals(damaged)) rec.fail(`${where}: a reader changed the file`);
    if (reports.length > 0) rec.fail(`${where}: a reader reported corruption: ${reports.map((r) => r.kind).join()}`);
  } catch (err) {
    rec.corrupted(`${where}: the session does not open: ${describeError(err)}`);
    await reader.close();
    return;
  }
  await reader.close();
  // The next append works, on a clean line, right after the served head.
  const writer = open();
  try {
    const m = await writer.addMessage(id, { id: 'after-cut', role: 'user', content: 'after the power cut' });
    if (m.seq !== model.headSeq + 1) rec.corrupted(`${where}: the next append got seq ${m.seq}, expected ${model.headSeq + 1}`);
  } catch (err) {
    rec.fail(`${where}: the next append failed: ${describeError(err)}`);
    await writer.close();
    return;
  }
  await writer.close();
  const after = fs.readFileSync(file);
  const raw = parseRawLog(after);
  if (raw.tail.length > 0 || raw.problems.length > 0) rec.corrupted(`${where}: after the append the log has ${raw.tail.length} torn bytes, problems ${raw.problems.join('; ')}`);
  if (!after.subarray(0, validEnd).equals(original.subarray(0, validEnd))) rec.corrupted(`${where}: the complete events were rewritten`);
  const fresh = open();
  try {
    const ids = (await fresh.getMessages(id, { includeReverted: true })).map((m) => m.id);
    const d = firstDifference(ids, [...model.all.map((m) => m.id), 'after-cut']);
    if (d) rec.corrupted(`${where}: after the append: ${d}`);
  } finally {
    await fresh.close();
  }
  // Exactly the cut-off bytes, once, in quarantine.
  const cutOff = damaged.subarray(validEnd);
  const torn = reports.filter((r) => r.kind === 'torn-tail');
  if (cutOff.length === 0) {
    if (reports.length > 0) rec.fail(`${where}: nothing was cut off, but ${reports.length} report(s)`);
  } else if (torn.length !== 1 || reports.length !== 1) {
    rec.fail(`${where}: expected one torn-tail report, got ${reports.map((r) => r.kind).join() || 'none'}`);
  } else if (!fs.readFileSync(torn[0]!.quarantinedTo).equals(cutOff)) {
    rec.corrupted(`${where}: the quarantined bytes are not the ${cutOff.length} cut-off bytes`);
  } else rec.count('quarantinedExactly');
  fs.rmSync(dir, { recursive: true, force: true });
}

/** A creator cut inside its first write: no session, and a create takes the id over (bytes kept). */
async function firstWriteCut(rec: Recorder, config: ChaosConfig, original: Buffer): Promise<void> {
  const firstEnd = original.indexOf(0x0a) + 1;
  const step = config.quick ? Math.ceil(firstEnd / 4) : Math.max(1, Math.floor(firstEnd / 40));
  for (let cut = 1; cut < firstEnd; cut += step) {
    rec.count('cases.first-write');
    const dir = tempDir('power-first');
    fs.mkdirSync(path.join(dir, 'sessions'), { recursive: true, mode: 0o700 });
    const damaged = original.subarray(0, cut);
    fs.writeFileSync(path.join(dir, 'sessions', 'p.jsonl'), damaged, { mode: 0o600 });
    const reports: CorruptionReport[] = [];
    const store = openStore({ dir, durability: 'process', onCorruption: (r) => reports.push(r) });
    try {
      if (await store.sessionExists('p')) rec.corrupted(`first write cut at ${cut}: a session with no complete event exists`);
      await store.createSession({ id: 'p', title: 'again' });
      if ((await store.getSessionInfo('p')).title !== 'again') rec.corrupted(`first write cut at ${cut}: the new session is not the one read`);
      if (reports.length !== 1 || !fs.readFileSync(reports[0]!.quarantinedTo).equals(damaged)) {
        rec.fail(`first write cut at ${cut}: the dead creator's bytes were not quarantined exactly once`);
      }
    } catch (err) {
      rec.fail(`first write cut at ${cut}: ${describeError(err)}`);
    } finally {
      await store.close();
    }
  }
}
