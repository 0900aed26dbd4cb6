/**
 * The PostgreSQL driver's schema: versioned, idempotent migrations, applied in one transaction under a
 * transaction-scoped advisory lock derived from the schema name, so any number of processes opening a
 * fresh database at once all succeed and each version is applied exactly once.
 */
import { createHash } from 'node:crypto';
import { InvalidInputError } from '../../core/errors.js';

/** Schema names are interpolated into SQL, so they are validated, never quoted around user input. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export const DEFAULT_SCHEMA = 'threadloom';

export function assertSchemaName(schema: unknown): asserts schema is string {
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
    throw new InvalidInputError(
      'options.schema',
      `must match ${SCHEMA_NAME.source} (lower-case letters, digits and _, at most 63 characters), got ${
        typeof schema === 'string' ? JSON.stringify(schema.slice(0, 80)) : typeof schema
      }`,
    );
  }
}

/** `"schema"` (already validated, so the quotes are only for reserved words). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The NOTIFY channel of a schema: `<schema>_events`, or a hash when that would exceed 63 bytes. */
export function channelFor(schema: string): string {
  const plain = `${schema}_events`;
  if (plain.length <= 63) return plain;
  return `threadloom_events_${createHash('sha256').update(schema).digest('hex').slice(0, 24)}`;
}

/** `pg_advisory_xact_lock(int4, int4)` keys: a constant for threadloom, and the schema name's hash. */
export function migrationLockKeys(schema: string): [number, number] {
  const classId = 0x746c6f6f; // "tloo"
  return [classId, createHash('sha256').update(`threadloom:${schema}`).digest().readInt32BE(0)];
}

export interface Migration {
  version: number;
  description: string;
  sql: (s: string) => string[];
}

/**
 * Every migration ever shipped, in order. Never edit a shipped one: add the next version.
 *
 * Text columns that are compared or ordered (`id`, `updated_at`, …) use the "C" collation, so the
 * database orders them exactly as the other drivers do (byte order; ids are ASCII). The summary and the
 * events are stored as `json` (verbatim text), which keeps every JSON value a caller can store,
 * including `\u0000` and lone surrogates that `jsonb` and `text` refuse.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'sessions (row lock + listing index) and events',
    sql: (s) => [
      `CREATE TABLE ${s}.sessions (
         id               text COLLATE "C" PRIMARY KEY,
         head_seq         bigint NOT NULL,
         parent_id        text COLLATE "C",
         agent_name       text COLLATE "C",
         user_id          text COLLATE "C",
         updated_at       text COLLATE "C" NOT NULL,
         share_token_hash text COLLATE "C",
         deleted          boolean NOT NULL DEFAULT false,
         summary          json NOT NULL
       )`,
      `CREATE TABLE ${s}.events (
         session_id text COLLATE "C" NOT NULL REFERENCES ${s}.sessions (id) ON DELETE CASCADE,
         seq        bigint NOT NULL,
         event      json NOT NULL,
         PRIMARY KEY (session_id, seq)
       )`,
      `CREATE INDEX sessions_listing_idx ON ${s}.sessions (updated_at DESC, id DESC) WHERE NOT deleted`,
      `CREATE INDEX sessions_parent_idx ON ${s}.sessions (parent_id, updated_at DESC, id DESC)`,
      `CREATE INDEX sessions_agent_idx ON ${s}.sessions (agent_name, updated_at DESC, id DESC) WHERE NOT deleted`,
      `CREATE INDEX sessions_user_idx ON ${s}.sessions (user_id, updated_at DESC, id DESC) WHERE NOT deleted`,
      `CREATE UNIQUE INDEX sessions_share_idx ON ${s}.sessions (share_token_hash) WHERE share_token_hash IS NOT NULL`,
    ],
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The minimal query surface migrations need (a pg client or pool). */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
}

/** True when the schema's migrations table already records every known version (no lock needed). */
export async function isUpToDate(db: Queryable, schema: string): Promise<boolean> {
  const s = quoteIdent(schema);
  const { rows } = await db.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [`${s}.migrations`]);
  if (!rows[0]?.present) return false;
  const applied = await db.query(`SELECT version FROM ${s}.migrations`);
  const have = new Set(applied.rows.map((r: { version: unknown }) => Number(r.version)));
  return MIGRATIONS.every((m) => have.has(m.version));
}

/**
 * Applies every missing migration. Call on a dedicated client (it runs BEGIN … COMMIT). The advisory
 * lock is taken before anything else, so concurrent runs queue up and the later ones find nothing to do.
 */
export async function migrate(client: Queryable, schema: string): Promise<number[]> {
  const s = quoteIdent(schema);
  const [classId, objId] = migrationLockKeys(schema);
  const appliedNow: number[] = [];
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [classId, objId]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.migrations (
         version    int PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT now(),
         description text
       )`,
    );
    const applied = await client.query(`SELECT version FROM ${s}.migrations`);
    const have = new Set(applied.rows.map((r: { version: unknown }) => Number(r.version)));
    for (const m of MIGRATIONS) {
      if (have.has(m.version)) continue;
      for (const statement of m.sql(s)) await client.query(statement);
      await client.query(`INSERT INTO ${s}.migrations (version, description) VALUES ($1, $2)`, [m.version, m.description]);
      appliedNow.push(m.version);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return appliedNow;
}
