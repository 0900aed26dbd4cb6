/**
 * Every failure a caller can act on has its own class and a stable `code`, so callers can branch on
 * `err.code` (or `instanceof`) and never on message text.
 */
export type ThreadloomErrorCode =
  | 'SESSION_NOT_FOUND'
  | 'SESSION_EXISTS'
  | 'STALE_SESSION'
  | 'INVALID_INPUT'
  | 'SNAPSHOT_NOT_FOUND'
  | 'MESSAGE_NOT_FOUND'
  | 'LOCK_TIMEOUT'
  | 'CORRUPT_SESSION'
  | 'STORAGE_ERROR'
  | 'DRIVER_UNAVAILABLE';

export class ThreadloomError extends Error {
  readonly code: ThreadloomErrorCode;
  constructor(code: ThreadloomErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export class SessionNotFoundError extends ThreadloomError {
  readonly sessionId: string;
  constructor(sessionId: string) {
    super('SESSION_NOT_FOUND', `session not found: ${JSON.stringify(sessionId)}`);
    this.sessionId = sessionId;
  }
}

export class SessionExistsError extends ThreadloomError {
  readonly sessionId: string;
  constructor(sessionId: string) {
    super('SESSION_EXISTS', `session already exists: ${JSON.stringify(sessionId)}`);
    this.sessionId = sessionId;
  }
}

/** A conditional write (`expectedSeq`) found the log's head elsewhere; nothing was written. */
export class StaleSessionError extends ThreadloomError {
  readonly sessionId: string;
  readonly expectedSeq: number;
  readonly actualSeq: number;
  constructor(sessionId: string, expectedSeq: number, actualSeq: number) {
    super(
      'STALE_SESSION',
      `session ${JSON.stringify(sessionId)} is at seq ${actualSeq}, expected ${expectedSeq}; nothing was written`,
    );
    this.sessionId = sessionId;
    this.expectedSeq = expectedSeq;
    this.actualSeq = actualSeq;
  }
}

export class InvalidInputError extends ThreadloomError {
  /** Dotted path of the offending field, e.g. `message.toolCalls[0].id`. */
  readonly field: string;
  constructor(field: string, problem: string) {
    super('INVALID_INPUT', `invalid ${field}: ${problem}`);
    this.field = field;
  }
}

export class SnapshotNotFoundError extends ThreadloomError {
  readonly sessionId: string;
  readonly snapshotId: string;
  constructor(sessionId: string, snapshotId: string) {
    super('SNAPSHOT_NOT_FOUND', `snapshot ${JSON.stringify(snapshotId)} not found in session ${JSON.stringify(sessionId)}`);
    this.sessionId = sessionId;
    this.snapshotId = snapshotId;
  }
}

export class MessageNotFoundError extends ThreadloomError {
  readonly sessionId: string;
  readonly messageRef: string;
  constructor(sessionId: string, messageRef: string | number, detail = 'not found') {
    super('MESSAGE_NOT_FOUND', `message ${JSON.stringify(messageRef)} ${detail} in session ${JSON.stringify(sessionId)}`);
    this.sessionId = sessionId;
    this.messageRef = String(messageRef);
  }
}

export class LockTimeoutError extends ThreadloomError {
  readonly sessionId: string;
  readonly waitedMs: number;
  constructor(sessionId: string, waitedMs: number) {
    super('LOCK_TIMEOUT', `timed out after ${waitedMs} ms waiting for the write lock of session ${JSON.stringify(sessionId)}; nothing was written`);
    this.sessionId = sessionId;
    this.waitedMs = waitedMs;
  }
}

/** The stored log of a session is not a valid log. Its bytes were preserved at `quarantinedTo`. */
export class CorruptSessionError extends ThreadloomError {
  readonly sessionId: string;
  readonly quarantinedTo: string | null;
  constructor(sessionId: string, reason: string, quarantinedTo: string | null) {
    super(
      'CORRUPT_SESSION',
      `session ${JSON.stringify(sessionId)} is corrupt (${reason})` +
        (quarantinedTo ? `; its bytes were moved to ${quarantinedTo}` : ''),
    );
    this.sessionId = sessionId;
    this.quarantinedTo = quarantinedTo;
  }
}

/** The storage refused a write or read (disk full, I/O error, permissions…). Nothing partial is visible. */
export class StorageError extends ThreadloomError {
  readonly operation: string;
  readonly errno: string | undefined;
  constructor(operation: string, cause: unknown) {
    const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
    super('STORAGE_ERROR', `storage failed during ${operation}${errno ? ` (${errno})` : ''}`, { cause });
    this.operation = operation;
    this.errno = errno;
  }
}

/** A backend could not be loaded or reached. Messages never include connection secrets. */
export class DriverUnavailableError extends ThreadloomError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DRIVER_UNAVAILABLE', message, options);
  }
}
