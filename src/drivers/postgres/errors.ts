/**
 * Error hygiene for the PostgreSQL driver. Connection strings carry passwords, and errors raised while
 * parsing or using them can echo them (Node's URL errors keep the whole `input`, some server messages
 * quote parameters). So no raw error from `pg` is ever attached or printed: every one is replaced by a
 * sanitised copy (name, code, redacted message) before it reaches a caller.
 */
import { DriverUnavailableError, StorageError, ThreadloomError } from '../../core/errors.js';
import { redactSecrets, redactUrl } from '../../core/redact.js';

/** The secrets a connection string may carry: the password (raw and percent-decoded), query-string passwords. */
export function secretsOf(url: string | undefined): string[] {
  const out: string[] = [];
  const envPassword = process.env.PGPASSWORD;
  if (envPassword) out.push(envPassword);
  if (url === undefined) return out;
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^@/?#]*)@/i.exec(url)?.[1];
  if (userinfo !== undefined && userinfo.includes(':')) {
    const raw = userinfo.slice(userinfo.indexOf(':') + 1);
    out.push(raw);
    try {
      out.push(decodeURIComponent(raw));
    } catch {
      // not percent-encoded: the raw form is enough
    }
  }
  for (const m of url.matchAll(/[?&](?:password|sslpassword|sslkey)=([^&#]*)/gi)) {
    out.push(m[1]!);
    try {
      out.push(decodeURIComponent(m[1]!));
    } catch {
      // keep the raw form
    }
  }
  return out.filter((s) => s.length > 0);
}

/** A URL fit for messages: no password in the userinfo, none in the query string. */
export function describeUrl(url: string): string {
  return redactSecrets(
    redactUrl(url).replace(/([?&](?:password|sslpassword|sslkey)=)[^&#]*/gi, '$1***'),
    secretsOf(url),
  );
}

/** A copy of `err` that keeps only what is safe to show: its name, code and redacted message. */
export function sanitizeError(err: unknown, secrets: readonly string[]): Error & { code?: string } {
  const e = err as { name?: unknown; message?: unknown; code?: unknown; errors?: unknown } | null;
  let message = typeof e?.message === 'string' ? e.message : String(err);
  // Connection attempts to several addresses fail with an AggregateError whose message is empty.
  if (!message && Array.isArray(e?.errors)) {
    message = e.errors.map((x: { message?: unknown }) => (typeof x?.message === 'string' ? x.message : String(x))).join('; ');
  }
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (!message) message = code ?? 'unknown error';
  const copy = new Error(redactSecrets(message, secrets)) as Error & { code?: string };
  copy.name = typeof e?.name === 'string' ? e.name : 'Error';
  if (code !== undefined) copy.code = code;
  // The copy's own stack points here; the original's is dropped because its first line is the raw message.
  copy.stack = `${copy.name}: ${copy.message}`;
  return copy;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOENT', // unix socket path
  '57P01', // admin_shutdown (pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
]);

/** True for failures of the connection itself (as opposed to an SQL error on a healthy connection). */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (CONNECTION_CODES.has(code) || code.startsWith('08')) return true;
  const message = typeof e?.message === 'string' ? e.message : '';
  return /connection terminated|not queryable|connection error|timeout exceeded when trying to connect|Connection ended/i.test(message);
}

/** What went wrong while reaching or setting up the database: always DriverUnavailableError. */
export function unavailable(what: string, err: unknown, secrets: readonly string[]): DriverUnavailableError {
  if (err instanceof DriverUnavailableError) return err;
  const cause = sanitizeError(err, secrets);
  return new DriverUnavailableError(redactSecrets(`${what}: ${cause.message}`, secrets), { cause });
}

/** A failed query on an established connection: StorageError (nothing of the transaction is visible). */
export function storageFailure(operation: string, err: unknown, secrets: readonly string[]): ThreadloomError {
  if (err instanceof ThreadloomError) return err;
  return new StorageError(operation, sanitizeError(err, secrets));
}
