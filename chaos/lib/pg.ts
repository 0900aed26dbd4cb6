/** PostgreSQL plumbing for the campaign: reachability, fresh schemas, raw reads of the events table. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { redactUrl } from '../../src/core/redact.js';
import type { RawEvent } from './rawlog.js';
import type { ChaosConfig } from './types.js';
import type { Recorder } from './recorder.js';

export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

export function freshSchema(prefix = 'tl_chaos'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export { pgUnreachable } from '../../test/helpers/pg-reachable.js';
import { pgUnreachable } from '../../test/helpers/pg-reachable.js';

/**
 * True when PostgreSQL answers. Otherwise records one clear skip line, or a failure when
 * THREADLOOM_REQUIRE_SERVICES=1.
 */
export async function requirePg(config: ChaosConfig, rec: Recorder, what: string): Promise<boolean> {
  const why = await pgUnreachable(config.pgUrl);
  if (why === null) return true;
  const line = `${what}: PostgreSQL not reachable at ${redactUrl(config.pgUrl)} (${why}); set THREADLOOM_PG_URL or start it`;
  if (config.requireServices) rec.fail(`${line} [THREADLOOM_REQUIRE_SERVICES=1]`);
  else rec.skip(line);
  config.log(`  skip: ${line}`);
  return false;
}

export async function adminClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'threadloom-chaos-admin' });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Every session's events, straight from the table (JSON parsed here, not by the driver). */
export async function rawPgLogs(client: pg.Client, schema: string): Promise<Map<string, RawEvent[]>> {
  const out = new Map<string, RawEvent[]>();
  const sessions = await client.query(`SELECT id FROM "${schema}".sessions`);
  for (const row of sessions.rows as Array<{ id: string }>) out.set(row.id, []);
  const r = await client.query(`SELECT session_id, seq::text AS seq_text, event::text AS event FROM "${schema}".events ORDER BY session_id, events.seq`);
  for (const row of r.rows as Array<{ session_id: string; seq_text: string; event: string }>) {
    const e = JSON.parse(row.event) as RawEvent;
    if (String(e.seq) !== row.seq_text) e.seq = Number.NaN; // the checker reports the mismatch as a seq problem
    let list = out.get(row.session_id);
    if (!list) out.set(row.session_id, (list = []));
    list.push(e);
  }
  return out;
}

export async function dropSchema(client: pg.Client, schema: string): Promise<void> {
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

export function withAppName(url: string, app: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}application_name=${encodeURIComponent(app)}`;
}
