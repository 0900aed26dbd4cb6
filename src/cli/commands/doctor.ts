/**
 * `threadloom doctor`: reads every log in the store, lets the driver repair or quarantine what it
 * finds (reported through onCorruption), finishes deletions a crash interrupted, and re-derives each
 * index entry from its log.
 */
import type { Command } from 'commander';
import { dataDir, print, withStore } from '../context.js';
import { EXIT, threadloomCode } from '../errors.js';
import { bold, json, oneLine, plural } from '../format.js';
import type { CorruptionReport } from '../../drivers/driver.js';
import type { SessionStore } from '../../store.js';

type Status = 'healthy' | 'repaired' | 'quarantined' | 'corrupt' | 'error' | 'vanished';

interface SessionCheck {
  id: string;
  status: Status;
  notes: string[];
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check every session log; repair torn writes and interrupted deletions, quarantine damaged logs')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const reports: CorruptionReport[] = [];
      const checks = await withStore(cmd, (store) => checkAll(store), { onCorruption: (r) => reports.push(r) });
      const result = summarise(checks, reports);
      const dir = await dataDir(cmd);
      if (opts.json) print(json({ dir, ...result }));
      else print(...humanReport(dir, result));
      // Repaired is healthy; only damage that needed quarantine (or could not be handled) fails.
      if (!result.ok) process.exitCode = EXIT.failure;
    });
}

async function checkAll(store: SessionStore): Promise<SessionCheck[]> {
  const ids: string[] = [];
  for await (const id of store.driver.listLogIds()) ids.push(id);
  ids.sort();
  const checks: SessionCheck[] = [];
  for (const id of ids) checks.push(await checkOne(store, id));
  return checks;
}

async function checkOne(store: SessionStore, id: string): Promise<SessionCheck> {
  const check: SessionCheck = { id, status: 'healthy', notes: [] };
  try {
    // A cold full read: validates every line, and the driver quarantines a log that is not valid.
    await store.getSession(id);
    // Readers never repair; a writer's pass under the lock cuts a torn tail (reported through
    // onCorruption) and re-derives the index entry (repairs a lost index write).
    await store.repair(id);
  } catch (err) {
    const code = threadloomCode(err);
    const message = err instanceof Error ? err.message : String(err);
    if (code === 'CORRUPT_SESSION') {
      const to = (err as { quarantinedTo?: string | null }).quarantinedTo ?? null;
      check.status = to === null ? 'corrupt' : 'quarantined';
      check.notes.push(message);
    } else if (code === 'SESSION_NOT_FOUND') {
      // Either its deletion fence is written but a crash stopped the removal, or it is gone already.
      if (await store.finishPendingDeletion(id)) {
        check.status = 'repaired';
        check.notes.push('finished a deletion interrupted by a crash');
      } else {
        check.status = 'vanished';
        check.notes.push('no longer stored (deleted or moved aside while checking)');
      }
    } else {
      check.status = 'error';
      check.notes.push(message);
    }
  }
  return check;
}

interface DoctorResult {
  ok: boolean;
  checked: number;
  healthy: number;
  repaired: number;
  quarantined: number;
  problems: number;
  sessions: SessionCheck[];
  corruption: CorruptionReport[];
}

/**
 * The driver's reports are authoritative about what happened to the bytes: a log reported as
 * 'corrupt-log' was moved aside even if the read then said "not found", and a 'torn-tail' report
 * means complete events were kept and the torn bytes preserved.
 */
function summarise(checks: SessionCheck[], reports: CorruptionReport[]): DoctorResult {
  const byId = new Map(checks.map((c) => [c.id, c]));
  for (const r of reports) {
    let check = byId.get(r.sessionId);
    if (!check) {
      check = { id: r.sessionId, status: 'healthy', notes: [] };
      byId.set(r.sessionId, check);
      checks.push(check);
    }
    if (r.kind === 'corrupt-log') {
      check.status = 'quarantined';
      check.notes = [`${r.reason}; moved to ${r.quarantinedTo}`];
    } else {
      if (check.status === 'healthy' || check.status === 'vanished') check.status = 'repaired';
      check.notes.push(`${r.reason}; the cut bytes were kept at ${r.quarantinedTo}`);
    }
  }
  const count = (...s: Status[]) => checks.filter((c) => s.includes(c.status)).length;
  const problems = count('corrupt', 'error');
  const quarantined = count('quarantined');
  return {
    ok: quarantined === 0 && problems === 0,
    checked: checks.length,
    healthy: count('healthy', 'vanished'),
    repaired: count('repaired'),
    quarantined,
    problems,
    sessions: checks,
    corruption: reports,
  };
}

function humanReport(dir: string, r: DoctorResult): string[] {
  const lines = [
    `checked ${plural(r.checked, 'session')} in ${dir}`,
    `  healthy      ${r.healthy}`,
    `  repaired     ${r.repaired}`,
    `  quarantined  ${r.quarantined}`,
  ];
  if (r.problems > 0) lines.push(`  unreadable   ${r.problems}`);
  for (const status of ['repaired', 'quarantined', 'corrupt', 'error'] as const) {
    const list = r.sessions.filter((c) => c.status === status);
    if (list.length === 0) continue;
    lines.push('', bold(status === 'corrupt' || status === 'error' ? `${status} (left in place)` : status));
    for (const c of list) for (const n of c.notes) lines.push(`  ${c.id}: ${oneLine(n)}`);
  }
  lines.push(
    '',
    !r.ok
      ? 'store had damage: see above (quarantined bytes are kept for inspection, never deleted)'
      : r.repaired > 0
        ? 'store is healthy (after the repairs above)'
        : 'store is healthy',
  );
  return lines;
}
