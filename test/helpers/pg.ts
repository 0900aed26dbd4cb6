/**
 * PostgreSQL test plumbing: where the test database is (`THREADLOOM_PG_URL`), whether it is reachable,
 * fresh per-run schemas, and a raw client that reads the tables without going through the driver.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { redactSecrets, redactUrl } from '../../src/core/redact.js';
import { secretsOf } from '../../src/drivers/postgres/errors.js';
import { pgUnreachable as reachable } from './pg-reachable.js';

export const PG_URL = process.env.THREADLOOM_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';

/** A schema name no other run uses. */
export function freshSchema(prefix = 'tl_test'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** Null when PostgreSQL answers (at PG_URL by default), else why not. */
export function pgUnreachable(url = PG_URL): Promise<string | null> {
  return reachable(url);
}

/**
 * Decides whether a PostgreSQL test file runs: true when the server answers. Otherwise, with
 * THREADLOOM_REQUIRE_SERVICES=1 (CI) it registers a failing test, else one skipped test that says why.
 */
export async function requirePostgres(): Promise<boolean> {
  const why = await pgUnreachable();
  if (why === null) return true;
  const message = `PostgreSQL not reachable at ${redactUrl(PG_URL)}; start it or set THREADLOOM_PG_URL to run these tests`;
  if (process.env.THREADLOOM_REQUIRE_SERVICES === '1') {
    test(`postgres is reachable (THREADLOOM_REQUIRE_SERVICES=1)`, () => assert.fail(`${message} (${redactSecrets(why, secretsOf(PG_URL))})`));
  } else {
    test.skip(message);
  }
  return false;
}

/** A direct connection for assertions (raw reads, admin statements). */
export async function rawClient(url = PG_URL): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'threadloom-tests-raw' });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Reads a session's events straight from the events table, parsing the stored JSON text itself. */
export async function rawEvents(client: pg.Client, schema: string, id: string) {
  const exists = await client.query(`SELECT 1 FROM "${schema}".sessions WHERE id = $1`, [id]);
  if (exists.rows.length === 0) return null;
  const r = await client.query(`SELECT seq::text AS seq_text, event::text AS event_text FROM "${schema}".events WHERE session_id = $1 ORDER BY seq`, [id]);
  return r.rows.map((row: { seq_text: string; event_text: string }) => {
    const event = JSON.parse(row.event_text);
    assert.equal(String(event.seq), row.seq_text, 'the seq column matches the stored event');
    return event;
  });
}

export async function dropSchema(client: pg.Client, schema: string): Promise<void> {
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}
