/**
 * The PostgreSQL driver. One row per session in `<schema>.sessions` is both the session's write lock
 * (`SELECT … FOR UPDATE`) and its listing-index entry; `<schema>.events` holds the log. An append first
 * tries one autocommit statement conditional on the head this driver last saw (the common case of one
 * writer per session: one round trip); when the head moved or the row is busy it takes the locked path,
 * one short transaction: lock the row, let the plan read the tail, insert the whole batch in one
 * statement, update the row from the summary, notify watchers, commit. A create is one statement
 * (ON CONFLICT DO NOTHING decides between concurrent creators). See docs/postgres.md.
 *
 * `pg` is an optional peer dependency: it is imported on first use only (never for `{pg: pool}`), so
 * the rest of threadloom works without it.
 */
import { createHash } from 'node:crypto';
import type { StoredEvent } from '../core/events.js';
import {
  DriverUnavailableError,
  InvalidInputError,
  LockTimeoutError,
  SessionExistsError,
  SessionNotFoundError,
  StaleSessionError,
  StorageError,
} from '../core/errors.js';
import { assertSessionId } from '../core/ids.js';
import type { AppendPlan, ListQuery, ListResult, LogTransaction, SessionDriver, SessionSummary } from './driver.js';
import { matchesQuery } from './listing.js';
import { checkSeqs } from './memory.js';
import { describeUrl, isConnectionError, secretsOf, storageFailure, unavailable } from './postgres/errors.js';
import { ChangeListener } from './postgres/notify.js';
import { SpeculationBackoff } from './postgres/speculation.js';
import { DEFAULT_SCHEMA, assertSchemaName, channelFor, isUpToDate, migrate, quoteIdent } from './postgres/schema.js';

/** What a query resolves to (the part of pg's QueryResult the driver reads). */
export interface PgQueryResultLike {
  rows: any[];
  rowCount: number | null;
}

/** A statement with a name: prepared once per connection, then only bound and executed. */
export interface PgQueryConfigLike {
  name?: string;
  text: string;
  values?: any[];
}

/** A connection checked out of a pool (the part of pg's PoolClient the driver uses). */
export interface PgPoolClientLike {
  query(textOrConfig: string | PgQueryConfigLike, values?: any[]): Promise<PgQueryResultLike>;
  /** Gives the connection back; `true` (or an error) destroys it instead. */
  release(err?: Error | boolean): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  on(event: 'notification', listener: (message: { channel: string; payload?: string | undefined }) => void): unknown;
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
}

/**
 * The minimal structural subset of `pg.Pool` the driver uses, so a caller's own `pg.Pool` can be passed
 * as `openStore({pg: pool})`. A pool passed in is never ended by the store.
 */
export interface PgPoolLike {
  connect(): Promise<PgPoolClientLike>;
  query(textOrConfig: string | PgQueryConfigLike, values?: any[]): Promise<PgQueryResultLike>;
  end(): Promise<void>;
}

export interface PostgresDriverOptions {
  /** `postgres://user:password@host:port/database?…` (any option `pg` understands). */
  url?: string;
  /** An existing pool (e.g. `new pg.Pool(…)`); not ended by `close()`. */
  pool?: PgPoolLike;
  /** Schema holding threadloom's tables; default `threadloom`. Must match /^[a-z_][a-z0-9_]{0,62}$/. */
  schema?: string;
  /**
   * Use named (server-side prepared) statements, planned once per connection (default true). Turn off
   * behind a pooler that cannot keep them, e.g. PgBouncer in transaction mode before 1.21.
   */
  preparedStatements?: boolean;
  /** How long an append waits for a session's row lock before LockTimeoutError (default 10 s, as the file driver). */
  lockTimeoutMs?: number;
}

/** `application_name` of the driver's own connections (a URL's `?application_name=` overrides it). */
export const APPLICATION_NAME = 'threadloom';

type PgModule = typeof import('pg');

let pgModule: Promise<PgModule> | null = null;

/** Imports `pg` once, on first use; DriverUnavailableError when it is not installed. */
async function loadPg(): Promise<PgModule> {
  pgModule ??= import('pg').then(
    (m) => ((m as unknown as { default?: PgModule }).default ?? m) as PgModule,
    (err: unknown) => {
      pgModule = null;
      const code = (err as { code?: unknown } | null)?.code;
      if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
        throw new DriverUnavailableError("the PostgreSQL driver needs the 'pg' package: npm install pg");
      }
      throw unavailable("the PostgreSQL driver could not load the 'pg' package", err, []);
    },
  );
  return pgModule;
}

/**
 * Text columns that are filtered or ordered on. PostgreSQL text cannot hold U+0000 (and a lone
 * surrogate is encoded as U+FFFD on the way in), so such characters are replaced by U+FFFD in these
 * key columns. The summary itself is stored verbatim as json, and every listing result is checked
 * against the exact query (`matchesQuery`), so a replaced character can never produce a wrong match.
 */
function key(value: string): string;
function key(value: string | null): string | null;
function key(value: string | null): string | null {
  return value === null ? null : value.replace(/\0/g, '\uFFFD');
}

const toSeq = (v: unknown): number => Number(v);

/** Sessions whose head a driver remembers for speculative appends (a few dozen bytes each). */
const KNOWN_HEADS_MAX = 10_000;
/** The upper bound of an open range: seqs are safe integers (a bound the index range scan can use, unlike `$3 IS NULL OR …`). */
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/**
 * readEvents' one statement (`s` is the quoted schema), so one snapshot: a batch is seen whole or not at
 * all, and a missing session is told apart from an empty range (no row at all vs one row with a null
 * event). The range is a LATERAL subquery with its own ORDER BY and LIMIT, an index range scan on
 * (session_id, seq) that stops after `limit` rows. Ordered across the join instead, PostgreSQL reads and
 * sorts every event after `afterSeq` for each page: a cold fold of 100 000 events took 40 s, not 1 s.
 * Exported for the test that checks how many rows a page reads.
 */
export function readEventsSql(s: string): string {
  return `SELECT page.event
            FROM ${s}.sessions ses
            LEFT JOIN LATERAL (
              SELECT e.seq, e.event::text AS event
                FROM ${s}.events e
               WHERE e.session_id = ses.id AND e.seq > $2 AND e.seq <= $3::bigint
               ORDER BY e.seq
               LIMIT $4
            ) page ON true
           WHERE ses.id = $1
           ORDER BY page.seq`;
}

export function readEventsParams(id: string, afterSeq: number, untilSeq?: number, limit?: number): unknown[] {
  return [id, afterSeq, untilSeq === undefined || untilSeq === Infinity ? MAX_SEQ : untilSeq, limit === undefined || limit === Infinity ? null : limit];
}

/** A session id as an SQL literal. Ids are validated before they get here; this re-checks, never escapes. */
function idLiteral(id: string): string {
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(id)) throw new InvalidInputError('sessionId', 'is not a valid session id');
  return `'${id}'`;
}

/** A multi-statement (simple protocol) query resolves to one result per statement. */
function lastResult(r: PgQueryResultLike | PgQueryResultLike[]): PgQueryResultLike {
  return Array.isArray(r) ? r[r.length - 1]! : r;
}

export function createPostgresDriver(options: PostgresDriverOptions): SessionDriver {
  if (options === null || typeof options !== 'object') throw new InvalidInputError('options', 'must be an object');
  const schema = options.schema ?? DEFAULT_SCHEMA;
  assertSchemaName(schema);
  const url = options.url;
  if (url !== undefined && typeof url !== 'string') throw new InvalidInputError('options.url', 'must be a string');
  if (url !== undefined && options.pool !== undefined) {
    throw new InvalidInputError('options', 'give a PostgreSQL url or a pg pool, not both');
  }
  if (url === undefined && options.pool === undefined) {
    throw new InvalidInputError('options', 'the PostgreSQL driver needs a url or a pg pool');
  }
  const lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
  if (!Number.isSafeInteger(lockTimeoutMs) || lockTimeoutMs < 1) {
    throw new InvalidInputError('options.lockTimeoutMs', 'must be a positive integer (milliseconds)');
  }
  const userPool = options.pool;
  if (userPool !== undefined && (typeof userPool.connect !== 'function' || typeof userPool.query !== 'function')) {
    throw new InvalidInputError('options.pg', 'must be a pg Pool (an object with connect() and query())');
  }

  const secrets = secretsOf(url);
  const target = url !== undefined ? `PostgreSQL at ${describeUrl(url)}` : 'PostgreSQL (the pg pool given)';
  const s = quoteIdent(schema);
  const channel = channelFor(schema);
  const prepared = options.preparedStatements !== false;
  const names = new Map<string, string>();
  /** The statement to send: named after a hash of its text (so different schemas never collide). */
  const statement = (text: string, values: unknown[]): PgQueryConfigLike => {
    if (!prepared) return { text, values };
    let name = names.get(text);
    if (name === undefined) {
      name = `threadloom_${createHash('sha256').update(text).digest('hex').slice(0, 20)}`;
      names.set(text, name);
    }
    return { name, text, values };
  };

  let pool: PgPoolLike | null = userPool ?? null;
  let ownPool = false;
  let initPromise: Promise<PgPoolLike> | null = null;
  let closed = false;
  let listener: ChangeListener | null = null;

  const init = async (): Promise<PgPoolLike> => {
    if (!pool) {
      const pg = await loadPg();
      try {
        const created = new pg.Pool({
          connectionString: url,
          application_name: APPLICATION_NAME,
          max: 10,
          connectionTimeoutMillis: 15_000,
          keepAlive: true,
          // Idle pooled connections do not keep the process alive (an active watch() does).
          allowExitOnIdle: true,
        });
        // An idle connection that dies (server restart, pg_terminate_backend) is dropped by the pool;
        // without a listener its 'error' event would crash the process.
        created.on('error', () => undefined);
        pool = created as unknown as PgPoolLike;
        ownPool = true;
      } catch (err) {
        throw unavailable(`cannot use ${target}`, err, secrets);
      }
    }
    await withConnection(pool, async (client) => {
      try {
        if (!(await isUpToDate(client, schema))) await migrate(client, schema);
      } catch (err) {
        throw unavailable(`cannot set up schema ${JSON.stringify(schema)} in ${target}`, err, secrets);
      }
    });
    return pool;
  };

  const ready = (): Promise<PgPoolLike> => {
    if (closed) return Promise.reject(new DriverUnavailableError('the PostgreSQL store is closed'));
    // Memoised, but a failed attempt is forgotten so the next call tries again.
    initPromise ??= init().catch((err: unknown) => {
      initPromise = null;
      throw err;
    });
    return initPromise;
  };

  /**
   * Runs `fn` on a checked-out connection. A failure to get one is DriverUnavailableError; a connection
   * that failed while in use is destroyed rather than returned to the pool.
   */
  async function withConnection<T>(
    p: PgPoolLike,
    fn: (client: PgPoolClientLike, markBroken: () => void) => Promise<T>,
  ): Promise<T> {
    let client: PgPoolClientLike;
    try {
      client = await p.connect();
    } catch (err) {
      throw unavailable(`cannot connect to ${target}`, err, secrets);
    }
    let broken = false;
    const onError = () => (broken = true);
    client.on('error', onError);
    try {
      return await fn(client, onError);
    } catch (err) {
      if (isConnectionError(err) || isConnectionError((err as { cause?: unknown }).cause)) broken = true;
      throw err;
    } finally {
      client.removeListener('error', onError);
      client.release(broken ? true : undefined);
    }
  }

  /** One statement on a pooled connection. Retried once on a connection failure (a stale pooled connection). */
  async function query(operation: string, text: string, values: unknown[]): Promise<PgQueryResultLike> {
    const p = await ready();
    for (let attempt = 1; ; attempt++) {
      try {
        return await p.query(statement(text, values));
      } catch (err) {
        if (isConnectionError(err)) {
          if (attempt === 1 && !closed) continue;
          throw unavailable(`lost the connection to ${target} during ${operation}`, err, secrets);
        }
        throw storageFailure(operation, err, secrets);
      }
    }
  }

  /** A statement inside a transaction: any failure is a typed error (StorageError), never a raw pg error. */
  async function txQuery(client: PgPoolClientLike, operation: string, text: string, values?: unknown[]): Promise<PgQueryResultLike> {
    try {
      // Statements without parameters (BEGIN; …, COMMIT) go through the simple protocol.
      return await client.query(values === undefined ? text : statement(text, values));
    } catch (err) {
      throw storageFailure(operation, err, secrets);
    }
  }

  const parseEvents = (rows: Array<{ event: string | null }>): StoredEvent[] => {
    const out: StoredEvent[] = [];
    for (const r of rows) if (r.event !== null) out.push(JSON.parse(r.event) as StoredEvent);
    return out;
  };

  const summaryColumns = (summary: SessionSummary) => [
    key(summary.parentId),
    key(summary.agentName),
    key(summary.userId),
    key(summary.updatedAt),
    key(summary.shareTokenHash),
    summary.deleted,
    JSON.stringify(summary),
  ];

  /**
   * Parameters $1…$13 shared by the three write statements (create, speculative, locked): the id, the
   * events' seqs and bodies, the new head, the summary's columns, and the NOTIFY channel and payload.
   */
  const writeParams = (id: string, planned: AppendPlan): unknown[] => {
    const last = planned.events[planned.events.length - 1]!.seq;
    return [
      id,
      planned.events.map((e) => e.seq),
      planned.events.map((e) => JSON.stringify(e)),
      last,
      ...summaryColumns(planned.summary),
      channel,
      JSON.stringify({ id, seq: last }),
    ];
  };

  /** The last head seen per session (bounded): the guess a speculative append is conditional on. */
  const knownHeads = new Map<string, number>();
  const noteHead = (id: string, seq: number): void => {
    knownHeads.delete(id);
    knownHeads.set(id, seq);
    if (knownHeads.size > KNOWN_HEADS_MAX) knownHeads.delete(knownHeads.keys().next().value!);
  };
  const speculation = new SpeculationBackoff(KNOWN_HEADS_MAX);

  /**
   * One autocommit statement that writes, never retried: once it is sent, a lost reply leaves its outcome
   * unknown, exactly as a lost COMMIT, and the caller must be told rather than have it applied twice.
   */
  async function writeOnce(operation: string, text: string, values: unknown[]): Promise<PgQueryResultLike> {
    const p = await ready();
    try {
      return await p.query(statement(text, values));
    } catch (err) {
      if (isConnectionError(err)) throw unavailable(`lost the connection to ${target} during ${operation}`, err, secrets);
      throw storageFailure(operation, err, secrets);
    }
  }

  /**
   * The append fast path: one round trip instead of a locked transaction's three. The plan runs against
   * the head this driver last saw, then one statement inserts the events and moves the head only if the
   * row is unlocked and still at that head. When it did not land, nothing was written and the locked
   * path decides again: `contended` when another writer got there first (it appended, or holds the row),
   * `missed` when the plan declined.
   */
  async function appendSpeculatively(
    id: string,
    guess: number,
    plan: (tx: LogTransaction) => Promise<AppendPlan | null>,
  ): Promise<StoredEvent[] | 'missed' | 'contended'> {
    let planned: AppendPlan | null;
    try {
      planned = await plan({
        headSeq: guess,
        speculative: true,
        readAfter: async (afterSeq, untilSeq = guess) => {
          if (afterSeq >= Math.min(guess, untilSeq)) return [];
          // Events up to a head once seen are committed and never change: no lock needed to read them.
          const r = await query(
            'read log',
            `SELECT event::text AS event FROM ${s}.events WHERE session_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq`,
            [id, afterSeq, Math.min(guess, untilSeq)],
          );
          return parseEvents(r.rows);
        },
      });
    } catch {
      // Whatever a plan concluded from a guessed head (stale, not found, declined) is decided again under the lock.
      return 'missed';
    }
    if (planned === null) return 'missed';
    checkSeqs(planned.events, guess);
    const events = planned.events;
    const last = events[events.length - 1]!.seq;
    let r: PgQueryResultLike;
    try {
      r = await writeOnce(
        'append',
        `WITH locked AS (
           SELECT id FROM ${s}.sessions WHERE id = $1 AND head_seq = $14 FOR UPDATE NOWAIT
         ), updated AS (
           UPDATE ${s}.sessions ses
              SET head_seq = $4, parent_id = $5, agent_name = $6, user_id = $7, updated_at = $8,
                  share_token_hash = $9, deleted = $10, summary = $11::json
             FROM locked
            WHERE ses.id = locked.id
           RETURNING ses.id
         ), inserted AS (
           INSERT INTO ${s}.events (session_id, seq, event)
           SELECT updated.id, t.seq, t.event FROM updated, unnest($2::bigint[], $3::json[]) AS t (seq, event)
         )
         SELECT count(*) AS applied FROM (SELECT pg_notify($12, $13) FROM updated) AS notified`,
        [...writeParams(id, planned), guess],
      );
    } catch (err) {
      // 55P03: another append holds the row right now; wait for it on the locked path.
      if (err instanceof StorageError && err.errno === '55P03') return 'contended';
      throw err;
    }
    if (Number(r.rows[0]?.applied) !== 1) {
      knownHeads.delete(id);
      return 'contended';
    }
    noteHead(id, last);
    return events;
  }

  /**
   * A new log in one autocommit statement: the session row and its first events, or nothing when the id
   * is taken (ON CONFLICT: of concurrent creators exactly one wins). The plan of a create reads nothing.
   */
  async function createLog(id: string, plan: (tx: LogTransaction) => Promise<AppendPlan | null>): Promise<StoredEvent[]> {
    const planned = await plan({ headSeq: 0, readAfter: async () => [] });
    if (planned === null) return [];
    checkSeqs(planned.events, null);
    const events = planned.events;
    const last = events[events.length - 1]!.seq;
    const r = await writeOnce(
      'append',
      `WITH created AS (
         INSERT INTO ${s}.sessions (id, head_seq, parent_id, agent_name, user_id, updated_at, share_token_hash, deleted, summary)
         VALUES ($1, $4, $5, $6, $7, $8, $9, $10, $11::json)
         ON CONFLICT (id) DO NOTHING
         RETURNING id
       ), inserted AS (
         INSERT INTO ${s}.events (session_id, seq, event)
         SELECT created.id, t.seq, t.event FROM created, unnest($2::bigint[], $3::json[]) AS t (seq, event)
       )
       SELECT count(*) AS created FROM (SELECT pg_notify($12, $13) FROM created) AS notified`,
      writeParams(id, planned),
    );
    if (Number(r.rows[0]?.created) !== 1) throw new SessionExistsError(id);
    noteHead(id, last);
    return events;
  }

  /** The locked path: the session row is locked for the whole decision, so the plan sees the true head. */
  async function appendLocked(
    id: string,
    plan: (tx: LogTransaction) => Promise<AppendPlan | null>,
    planCalled: { value: boolean },
  ): Promise<StoredEvent[]> {
    const p = await ready();
    return withConnection(p, async (client, markBroken) => {
      try {
        // BEGIN and the row lock travel together (simple protocol, one round trip); the id is inlined,
        // which is safe because session ids are validated to [A-Za-z0-9._:-] (see idLiteral). Appends to
        // one session queue on this row lock, across every process.
        const opened = lastResult(
          await txQuery(
            client,
            'append',
            `BEGIN; SET LOCAL lock_timeout = ${lockTimeoutMs}; SELECT head_seq FROM ${s}.sessions WHERE id = ${idLiteral(id)} FOR UPDATE`,
          ),
        );
        if (opened.rows.length === 0) {
          knownHeads.delete(id);
          throw new SessionNotFoundError(id);
        }
        const headSeq = toSeq(opened.rows[0].head_seq);
        planCalled.value = true;
        const planned = await plan({
          headSeq,
          readAfter: async (afterSeq, untilSeq = headSeq) => {
            // Under the lock nothing follows headSeq: the usual catch-up of a warm cache costs no query.
            if (afterSeq >= Math.min(headSeq, untilSeq)) return [];
            const r = await txQuery(
              client,
              'read log',
              `SELECT event::text AS event FROM ${s}.events WHERE session_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq`,
              [id, afterSeq, Math.min(headSeq, untilSeq)],
            );
            return parseEvents(r.rows);
          },
        });
        if (planned === null) {
          await txQuery(client, 'append', 'ROLLBACK');
          noteHead(id, headSeq);
          return [];
        }
        checkSeqs(planned.events, headSeq);
        const events = planned.events;
        const last = events[events.length - 1]!.seq;
        await txQuery(
          client,
          'append',
          `WITH inserted AS (
             INSERT INTO ${s}.events (session_id, seq, event)
             SELECT $1, t.seq, t.event FROM unnest($2::bigint[], $3::json[]) AS t (seq, event)
           ), updated AS (
             UPDATE ${s}.sessions
                SET head_seq = $4, parent_id = $5, agent_name = $6, user_id = $7, updated_at = $8,
                    share_token_hash = $9, deleted = $10, summary = $11::json
              WHERE id = $1
           )
           SELECT pg_notify($12, $13)`,
          writeParams(id, planned),
        );
        await txQuery(client, 'append', 'COMMIT');
        noteHead(id, last);
        return events;
      } catch (err) {
        // Nothing of the transaction is visible; a connection that cannot roll back is destroyed.
        await client.query('ROLLBACK').catch(markBroken);
        // 55P03 lock_not_available: another transaction held the row lock for lockTimeoutMs.
        if (err instanceof StorageError && err.errno === '55P03') throw new LockTimeoutError(id, lockTimeoutMs);
        throw err;
      }
    });
  }

  const driver: SessionDriver = {
    name: 'postgres',
    capabilities: { watch: true, rawRead: true },

    async head(id) {
      assertSessionId(id);
      const r = await query('head', `SELECT head_seq FROM ${s}.sessions WHERE id = $1`, [id]);
      if (r.rows.length === 0) {
        knownHeads.delete(id);
        return null;
      }
      const head = toSeq(r.rows[0].head_seq);
      noteHead(id, head);
      return head;
    },

    async readEvents(id, afterSeq, untilSeq, limit) {
      assertSessionId(id);
      const r = await query('read log', readEventsSql(s), readEventsParams(id, afterSeq, untilSeq, limit));
      if (r.rows.length === 0) return null;
      return parseEvents(r.rows);
    },

    async append(id, mode, plan) {
      assertSessionId(id);
      if (mode !== 'create' && mode !== 'update') throw new InvalidInputError('mode', "must be 'create' or 'update'");
      if (typeof plan !== 'function') throw new InvalidInputError('plan', 'must be a function');
      if (mode === 'create') return createLog(id, plan);
      const guess = knownHeads.get(id);
      if (guess !== undefined && speculation.shouldTry(id)) {
        const written = await appendSpeculatively(id, guess, plan);
        if (written === 'contended') speculation.missed(id);
        else if (written !== 'missed') {
          speculation.reset(id);
          return written;
        }
      }
      for (let attempt = 1; ; attempt++) {
        const planCalled = { value: false };
        try {
          return await appendLocked(id, plan, planCalled);
        } catch (err) {
          // A connection that died before the plan ran (a stale pooled connection) is retried once:
          // nothing was decided or written yet. After that, the caller gets the typed error.
          const retryable = !planCalled.value && attempt === 1 && !closed && (isConnectionError(err) || isConnectionError((err as { cause?: unknown }).cause));
          if (!retryable) throw err;
        }
      }
    },

    async list(query_: ListQuery): Promise<ListResult> {
      const limit = Math.max(1, Math.floor(query_.limit));
      const conditions: string[] = [];
      const values: unknown[] = [];
      const param = (v: unknown) => {
        values.push(v);
        return `$${values.length}`;
      };
      if (!query_.includeDeleted) conditions.push('NOT deleted');
      if (query_.parentId !== undefined) conditions.push(`parent_id = ${param(key(query_.parentId))}`);
      if (query_.agentName !== undefined) conditions.push(`agent_name = ${param(key(query_.agentName))}`);
      if (query_.userId !== undefined) conditions.push(`user_id = ${param(key(query_.userId))}`);
      if (query_.rootsOnly) conditions.push('parent_id IS NULL');
      const fixed = values.length;
      const matched: SessionSummary[] = [];
      // Keyset pagination in (updated_at DESC, id DESC) order, never OFFSET.
      let after: [string, string] | null = query_.after ? [key(query_.after.updatedAt), query_.after.id] : null;
      for (;;) {
        values.length = fixed;
        const where = [...conditions];
        if (after) where.push(`(updated_at, id) < (${param(after[0])}, ${param(after[1])})`);
        const want = limit + 1 - matched.length;
        const r = await query(
          'list',
          `SELECT summary::text AS summary, updated_at, id FROM ${s}.sessions
            ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
            ORDER BY updated_at DESC, id DESC
            LIMIT ${param(want)}`,
          values,
        );
        for (const row of r.rows as Array<{ summary: string; updated_at: string; id: string }>) {
          const summary = JSON.parse(row.summary) as SessionSummary;
          if (matchesQuery(summary, query_)) matched.push(summary);
        }
        const lastRow = r.rows[r.rows.length - 1] as { updated_at: string; id: string } | undefined;
        if (r.rows.length < want || matched.length > limit || !lastRow) break;
        after = [lastRow.updated_at, lastRow.id];
      }
      const page = matched.slice(0, limit);
      const lastOnPage = page[page.length - 1];
      return {
        sessions: page,
        next: matched.length > limit && lastOnPage ? { updatedAt: lastOnPage.updatedAt, id: lastOnPage.id } : null,
      };
    },

    async findByShareTokenHash(tokenHash) {
      if (typeof tokenHash !== 'string') return null;
      const r = await query(
        'find shared session',
        `SELECT id FROM ${s}.sessions WHERE share_token_hash = $1 AND NOT deleted LIMIT 1`,
        [key(tokenHash)],
      );
      return r.rows.length === 0 ? null : (r.rows[0].id as string);
    },

    async *listLogIds() {
      let after = '';
      for (;;) {
        const r = await query('list logs', `SELECT id FROM ${s}.sessions WHERE id > $1 ORDER BY id LIMIT 1000`, [after]);
        for (const row of r.rows as Array<{ id: string }>) yield row.id;
        if (r.rows.length < 1000) return;
        after = (r.rows[r.rows.length - 1] as { id: string }).id;
      }
    },

    async putSummary(summary) {
      assertSessionId(summary.id);
      // Only a summary of the log as it is now: one computed before a concurrent append must not replace
      // the newer entry that append wrote in its own transaction (StaleSessionError, as the file driver).
      const r = await query(
        'write index',
        `WITH current AS (SELECT head_seq FROM ${s}.sessions WHERE id = $1),
              updated AS (
                UPDATE ${s}.sessions
                   SET parent_id = $2, agent_name = $3, user_id = $4, updated_at = $5, share_token_hash = $6,
                       deleted = $7, summary = $8::json
                 WHERE id = $1 AND head_seq = $9
                RETURNING 1
              )
         SELECT (SELECT head_seq FROM current) AS head, (SELECT count(*) FROM updated) AS updated`,
        [summary.id, ...summaryColumns(summary), summary.headSeq],
      );
      const row = r.rows[0] as { head: unknown; updated: unknown } | undefined;
      if (!row || row.head === null || Number(row.updated) === 1) return;
      throw new StaleSessionError(summary.id, summary.headSeq, toSeq(row.head));
    },

    async remove(id) {
      assertSessionId(id);
      knownHeads.delete(id);
      speculation.reset(id);
      // The events go with the row (ON DELETE CASCADE); watchers are told so they see it is gone.
      await query(
        'remove',
        `WITH removed AS (DELETE FROM ${s}.sessions WHERE id = $1 RETURNING id, head_seq)
         SELECT pg_notify($2, json_build_object('id', id, 'seq', head_seq, 'removed', true)::text) FROM removed`,
        [id, channel],
      );
    },

    async subscribe(id, onChange) {
      assertSessionId(id);
      const p = await ready();
      listener ??= new ChangeListener({
        channel,
        connect: async () => {
          let client: PgPoolClientLike;
          try {
            client = await p.connect();
          } catch (err) {
            throw unavailable(`cannot connect to ${target}`, err, secrets);
          }
          // The listening connection is never handed back for reuse: it is destroyed when done.
          return { client, dispose: async () => client.release(true) };
        },
      });
      return listener.subscribe(id, onChange);
    },

    async close() {
      if (closed) return;
      closed = true;
      if (initPromise) await initPromise.catch(() => undefined);
      if (listener) await listener.close();
      if (ownPool && pool) {
        const p = pool;
        pool = null;
        await p.end().catch(() => undefined);
      }
    },
  };
  return driver;
}
