/**
 * The driver contract: the small interface every storage backend implements. The core (src/store.ts)
 * owns all semantics (the fold, validation, idempotency, fork/revert rules); a driver only stores
 * ordered per-session event logs and a listing index of per-session summaries.
 */
import type { StoredEvent } from '../core/events.js';
import type { SessionInfo } from '../core/model.js';

/**
 * What the listing index keeps per session. Computed by the core from the fold and handed to the
 * driver inside the same atomic append as the events it summarises, so it is never ahead of or behind
 * the log it describes.
 */
export interface SessionSummary extends Omit<SessionInfo, 'shared'> {
  /** sha256 (hex) of the active share token, or null. Lets `getSharedSession` find a session without a scan. */
  shareTokenHash: string | null;
  /** True once the deletion fence is written: the index hides it, the log may still serve a child's prefix. */
  deleted: boolean;
}

/** Position in the listing order (updatedAt descending, then id descending). */
export interface ListCursor {
  updatedAt: string;
  id: string;
}

export interface ListQuery {
  limit: number;
  after: ListCursor | null;
  parentId?: string;
  agentName?: string;
  userId?: string;
  rootsOnly?: boolean;
  /** Also return sessions whose deletion is under way (fenced, not yet removed). Used by deletion itself. */
  includeDeleted?: boolean;
}

export interface ListResult {
  /** Live (not deleted) sessions, newest update first. */
  sessions: SessionSummary[];
  /** Set when more sessions may follow. */
  next: ListCursor | null;
  /** Ids on this page whose summary lags their log (a lost index write); the core re-derives and putSummary()s them. */
  staleIds?: string[];
}

/** The view of a log a plan gets inside an atomic append. */
export interface LogTransaction {
  /** Seq of the last event in the log; 0 when creating a new log. A guess when `speculative`. */
  readonly headSeq: number;
  /**
   * Set when the driver holds no lock: `headSeq` is its last known head and the write will land only if
   * the log still ends there (one conditional statement instead of a locked transaction). The plan must
   * then leave shared state untouched, since the write may be discarded; any error it throws (typically
   * SpeculationDeclined) sends the driver to the locked path, which calls the plan again.
   */
  readonly speculative?: boolean;
  /** Events with `afterSeq < seq <= untilSeq` (all after `afterSeq` when absent), read under the same lock/transaction. */
  readAfter(afterSeq: number, untilSeq?: number): Promise<StoredEvent[]>;
}

/** What a plan asks the driver to write: events with seqs `headSeq+1…` (any start when creating) and the new summary. */
export interface AppendPlan {
  events: StoredEvent[];
  summary: SessionSummary;
}

/** Thrown by a plan that will not decide on a guessed head: the driver retries under its lock. */
export class SpeculationDeclined extends Error {
  constructor() {
    super('the plan needs the locked path');
    this.name = 'SpeculationDeclined';
  }
}

export type AppendMode = 'create' | 'update';

export interface DriverCapabilities {
  /** `watch(id)` delivers events appended by any process. */
  readonly watch: boolean;
  /** The suite can verify writes through `rawEvents` (a read that bypasses the driver's read path). */
  readonly rawRead: boolean;
}

export interface SessionDriver {
  readonly name: string;
  readonly capabilities: DriverCapabilities;

  /** Seq of the last complete event, or null when no log exists. Cheap: no parse of the history. */
  head(id: string): Promise<number | null>;

  /**
   * Events with `afterSeq < seq <= untilSeq` in order (all after `afterSeq` when `untilSeq` is absent),
   * at most the first `limit` of them when given, or null when no log exists. Never creates anything.
   * Cost: proportional to the events returned, wherever they sit in the log (readers page through
   * long sessions with it).
   */
  readEvents(id: string, afterSeq: number, untilSeq?: number, limit?: number): Promise<StoredEvent[] | null>;

  /**
   * The one write primitive: atomically (under the session's lock or in one transaction) read the head,
   * call `plan`, and append what it returns, all or nothing. `plan` may throw to abort (nothing is
   * written) or return null to write nothing. Mode 'create' fails with SessionExistsError if a log
   * exists; 'update' fails with SessionNotFoundError if none does. Resolves to the events written.
   * A driver may call `plan` again if it retries after a transient failure or a speculative attempt that
   * did not land; each call sees a fresh tx, and only the last call's result is ever written.
   */
  append(id: string, mode: AppendMode, plan: (tx: LogTransaction) => Promise<AppendPlan | null>): Promise<StoredEvent[]>;

  /** One page of live sessions from the index, newest update first. Bounded: never reads logs. */
  list(query: ListQuery): Promise<ListResult>;

  /** The session whose active share token hashes to `tokenHash`, or null. */
  findByShareTokenHash(tokenHash: string): Promise<string | null>;

  /** Every stored log id, live or not (for doctor, reindex and migration). */
  listLogIds(): AsyncIterable<string>;

  /** Overwrite the index entry of a session (repair after a lost index write, or a rebuild). */
  putSummary(summary: SessionSummary): Promise<void>;

  /** Remove a session's log and its index entry. Idempotent. */
  remove(id: string): Promise<void>;

  close(): Promise<void>;

  /**
   * Optional (capability `watch`): calls `onChange` soon after any process appends to the session's
   * log. Delivery may coalesce or repeat; the core re-reads from its last seen seq, so only liveness
   * matters. Resolves once listening, to a function that stops it.
   */
  subscribe?(id: string, onChange: () => void): Promise<() => Promise<void>>;
}

/** Reported through the store's `onCorruption` hook whenever damaged bytes are found and preserved. */
export interface CorruptionReport {
  sessionId: string;
  /** 'torn-tail': an incomplete last write, cut off and preserved; the complete events before it are served.
   *  'corrupt-log': the file is not a valid log at all; it was moved aside whole. */
  kind: 'torn-tail' | 'corrupt-log';
  reason: string;
  /** Where the damaged bytes now are. */
  quarantinedTo: string;
}
