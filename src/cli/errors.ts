/**
 * Exit codes. Scripts branch on these, so each class of failure keeps its number across releases;
 * they are derived from the store's stable error `code`, never from message text.
 */
import { CommanderError } from 'commander';
import type { ThreadloomErrorCode } from '../core/errors.js';

export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  storage: 5,
} as const;

const BY_CODE: Record<ThreadloomErrorCode, number> = {
  INVALID_INPUT: EXIT.usage,
  SESSION_NOT_FOUND: EXIT.notFound,
  SNAPSHOT_NOT_FOUND: EXIT.notFound,
  MESSAGE_NOT_FOUND: EXIT.notFound,
  SESSION_EXISTS: EXIT.conflict,
  STALE_SESSION: EXIT.conflict,
  LOCK_TIMEOUT: EXIT.conflict,
  CORRUPT_SESSION: EXIT.storage,
  STORAGE_ERROR: EXIT.storage,
  DRIVER_UNAVAILABLE: EXIT.failure,
};

/** A failure of the CLI itself (a file it cannot read, a bad argument): expected, so no stack trace. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.failure) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

/**
 * Duck-typed rather than `instanceof ThreadloomError`: a store built from another copy of the
 * package (e.g. a linked checkout) throws errors of a different class with the same `code`.
 */
export function threadloomCode(err: unknown): ThreadloomErrorCode | null {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code in BY_CODE ? (code as ThreadloomErrorCode) : null;
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    // --help and --version end through the same exception path as real usage errors.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
    return EXIT.usage;
  }
  if (err instanceof CliError) return err.exitCode;
  const code = threadloomCode(err);
  return code ? BY_CODE[code] : EXIT.failure;
}

/** Prints an error the way the user should see it and returns the exit code. */
export function reportError(err: unknown, write: (text: string) => void = (t) => process.stderr.write(t)): number {
  const exitCode = exitCodeFor(err);
  // Commander has already printed its own message (through configureOutput in program.ts).
  if (err instanceof CommanderError) return exitCode;
  const debug = Boolean(process.env.THREADLOOM_DEBUG);
  const expected = err instanceof CliError || threadloomCode(err) !== null;
  const message = err instanceof Error ? err.message : String(err);
  write(`threadloom: ${message}\n`);
  if (debug && err instanceof Error && err.stack) write(`${err.stack}\n`);
  else if (!expected) write('threadloom: this is unexpected; set THREADLOOM_DEBUG=1 to see the stack trace\n');
  return exitCode;
}
