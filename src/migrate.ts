/**
 * Copies every session from one store to another (file ↔ PostgreSQL, or between directories) through
 * the versioned export format, parents before children so tree links survive, then verifies each copy
 * against its source. The source is only read; an id that already exists in the target is skipped,
 * never overwritten.
 */
import { isDeepStrictEqual } from 'node:util';
import { SessionNotFoundError, ThreadloomError } from './core/errors.js';
import type { SessionInfo } from './core/model.js';
import type { SessionStore } from './store.js';

export interface MigrationReport {
  /** Sessions copied and verified (visible and full histories, snapshots, title, metadata). */
  copied: string[];
  skipped: Array<{ id: string; reason: string }>;
  failed: Array<{ id: string; error: string }>;
}

export interface MigrateOptions {
  onSession?: (id: string, outcome: 'copied' | 'skipped' | 'failed', detail?: string) => void;
}

export async function migrateSessions(source: SessionStore, target: SessionStore, options: MigrateOptions = {}): Promise<MigrationReport> {
  const report: MigrationReport = { copied: [], skipped: [], failed: [] };
  const infos = new Map<string, SessionInfo>();
  for await (const id of source.driver.listLogIds()) {
    try {
      infos.set(id, await source.getSessionInfo(id));
    } catch (err) {
      if (err instanceof SessionNotFoundError) continue; // deleted while we listed, or a pending deletion
      report.failed.push({ id, error: messageOf(err) });
      options.onSession?.(id, 'failed', messageOf(err));
    }
  }
  for (const info of parentsFirst(infos)) {
    const id = info.id;
    try {
      if (await target.sessionExists(id)) {
        report.skipped.push({ id, reason: 'exists in the target' });
        options.onSession?.(id, 'skipped', 'exists in the target');
        continue;
      }
      await target.importSession(await source.exportSession(id));
      const problem = await difference(source, target, id);
      if (problem) throw new Error(`verification failed: ${problem}`);
      report.copied.push(id);
      options.onSession?.(id, 'copied');
    } catch (err) {
      report.failed.push({ id, error: messageOf(err) });
      options.onSession?.(id, 'failed', messageOf(err));
    }
  }
  return report;
}

/** Roots first, then each generation: a parent is imported before its children, so links are kept. */
function parentsFirst(infos: Map<string, SessionInfo>): SessionInfo[] {
  const depth = new Map<string, number>();
  const depthOf = (id: string, seen: Set<string>): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    const parent = infos.get(id)?.parentId;
    const d = parent && infos.has(parent) && !seen.has(parent) ? depthOf(parent, seen.add(id)) + 1 : 0;
    depth.set(id, d);
    return d;
  };
  return [...infos.values()].sort((a, b) => depthOf(a.id, new Set()) - depthOf(b.id, new Set()) || (a.id < b.id ? -1 : 1));
}

async function difference(source: SessionStore, target: SessionStore, id: string): Promise<string | null> {
  const [a, b] = await Promise.all([source.getSession(id), target.getSession(id)]);
  const ids = (ms: Array<{ id: string }>) => ms.map((m) => m.id).join(',');
  if (ids(a.messages) !== ids(b.messages)) return `visible messages differ (${a.messages.length} vs ${b.messages.length})`;
  const [fullA, fullB] = await Promise.all([
    source.getMessages(id, { includeReverted: true }),
    target.getMessages(id, { includeReverted: true }),
  ]);
  if (!isDeepStrictEqual(fullA, fullB)) return `histories differ (${fullA.length} vs ${fullB.length} messages)`;
  if (a.snapshots.length !== b.snapshots.length) return 'snapshots differ';
  if (a.title !== b.title || !isDeepStrictEqual(a.metadata, b.metadata)) return 'title or metadata differ';
  return null;
}

function messageOf(err: unknown): string {
  return err instanceof ThreadloomError || err instanceof Error ? err.message : String(err);
}
