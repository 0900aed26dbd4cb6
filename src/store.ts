/**
 * The public API. A SessionStore turns calls into events, appends them through a driver, and serves
 * reads from a fold it keeps per session. The cache rule: every read first asks the driver for the
 * log's head; if it moved, only the events after the cached seq are read and folded.
 */
import { timingSafeEqual } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isStoredEvent, type EventBody, type MessageRecord, type StoredEvent } from './core/events.js';
import {
  CorruptSessionError,
  InvalidInputError,
  MessageNotFoundError,
  SessionExistsError,
  SessionNotFoundError,
  SnapshotNotFoundError,
  StaleSessionError,
} from './core/errors.js';
import {
  NO_PREFIX,
  applyEvent,
  createdPrefix,
  embeddedPrefix,
  findSeq,
  foldEvents,
  foldPrefix,
  arraySource,
  firstAfterIn,
  historySeqs,
  idOfSeq,
  indexOfSeq,
  initialState,
  isHeadEvent,
  messageFromRecord,
  type MessagePrefix,
  type SessionState,
} from './core/fold.js';
import { MessageBodies, StaleFoldError, type LockedLog } from './core/bodies.js';
import { assertSessionId, hashShareToken, isValidSessionId, newShareToken, uuidv7 } from './core/ids.js';
import type {
  ChatMessage,
  CheckpointInput,
  CompactionCheckpoint,
  CreateSessionInput,
  ForkOptions,
  GetMessagesOptions,
  JsonObject,
  ListSessionsOptions,
  Message,
  MessageInput,
  Session,
  SessionInfo,
  SessionPage,
  SessionTreeNode,
  Snapshot,
  SnapshotInput,
  WriteOptions,
} from './core/model.js';
import {
  assertOptionsObject,
  optionalLimit,
  optionalSeq,
  optionalString,
  parseMessageInput,
  toJsonObject,
} from './core/validate.js';
import {
  chatHistory,
  chatWindow,
  infoFromSummary,
  sessionInfo,
  previewSummary,
  sessionSummary,
  sessionView,
  snapshotView,
} from './core/view.js';
import { exportDocument, importPlan, type SessionExport } from './core/exchange.js';
import { SpeculationDeclined, type CorruptionReport, type ListCursor, type SessionDriver, type SessionSummary } from './drivers/driver.js';
import { createFileDriver } from './drivers/file.js';
import { createPostgresDriver, type PgPoolLike } from './drivers/postgres.js';
import { redactUrl } from './core/redact.js';
import { fileURLToPath } from 'node:url';
import { KeyedMutex } from './core/mutex.js';

export interface StoreOptions {
  /** File store directory. Default: `$THREADLOOM_DIR`, else `~/.threadloom`. */
  dir?: string;
  /** File store: 'full' (default) fsyncs every append (survives power loss); 'process' survives only process crashes. */
  durability?: 'full' | 'process';
  /** Called whenever damaged stored bytes are found and moved aside. */
  onCorruption?: (report: CorruptionReport) => void;
  /** How long a writer waits for a session's lock before LockTimeoutError. Default 10 s. */
  lockTimeoutMs?: number;
  /** A backend by URL: `postgres://…` / `postgresql://…`, or `file:///path`. */
  url?: string;
  /** An existing `pg` Pool to use (PostgreSQL). */
  pg?: PgPoolLike;
  /** PostgreSQL schema for threadloom's tables (default `threadloom`), to share a database. */
  schema?: string;
  /** A driver instance (a backend of your own, or one built by a driver module). */
  driver?: SessionDriver;
  /** How many folded sessions the store keeps in memory (least recently used are dropped). Default 1000. */
  cacheSessions?: number;
  /**
   * How many message bodies the store keeps in memory, store-wide: the newest ones of each session
   * (written, caught up, or read at the head). Older pages are read from the log when asked for, so a
   * session's size never has to fit in memory. Default 10 000; 0 keeps none.
   */
  cacheMessages?: number;
}

const DEFAULT_PAGE = 50;
const MAX_PAGE = 1000;
const PREFIX_CACHE_ENTRIES = 64;
/** Folded sessions kept per store: a re-fold of an evicted one costs one full read of its log. */
const DEFAULT_CACHE_SESSIONS = 1000;
const DEFAULT_CACHE_MESSAGES = 10_000;
/** A page ending within this many messages of the head is kept in the body cache (it will be read again). */
const HEAD_PAGE = 1024;
/** A cold fold reads the log this many events at a time, so it never holds more than that many parsed events. */
const FOLD_CHUNK = 128;

export function defaultDataDir(): string {
  const fromEnv = process.env.THREADLOOM_DIR;
  return fromEnv && fromEnv.length > 0 ? fromEnv : join(homedir(), '.threadloom');
}

/** Opens a store. Synchronous: backends connect lazily on first use. */
export function openStore(options: StoreOptions = {}): SessionStore {
  const opts = assertOptionsObject(options, 'options') as StoreOptions;
  if (opts.durability !== undefined && opts.durability !== 'full' && opts.durability !== 'process') {
    throw new InvalidInputError('options.durability', `must be 'full' or 'process', got ${JSON.stringify(opts.durability)}`);
  }
  if (opts.cacheSessions !== undefined && (!Number.isSafeInteger(opts.cacheSessions) || opts.cacheSessions < 1)) {
    throw new InvalidInputError('options.cacheSessions', 'must be a positive integer');
  }
  if (opts.cacheMessages !== undefined && (!Number.isSafeInteger(opts.cacheMessages) || opts.cacheMessages < 0)) {
    throw new InvalidInputError('options.cacheMessages', 'must be an integer >= 0');
  }
  return new SessionStore(opts.driver ?? driverFor(opts), {
    ...(opts.cacheSessions !== undefined ? { cacheSessions: opts.cacheSessions } : {}),
    ...(opts.cacheMessages !== undefined ? { cacheMessages: opts.cacheMessages } : {}),
  });
}

function driverFor(opts: StoreOptions): SessionDriver {
  const url = opts.url;
  if (opts.pg !== undefined || (url !== undefined && /^postgres(ql)?:\/\//i.test(url))) {
    return createPostgresDriver({
      ...(url !== undefined ? { url } : {}),
      ...(opts.lockTimeoutMs !== undefined ? { lockTimeoutMs: opts.lockTimeoutMs } : {}),
      ...(opts.pg !== undefined ? { pool: opts.pg } : {}),
      ...(opts.schema !== undefined ? { schema: opts.schema } : {}),
    });
  }
  let dir = opts.dir ?? defaultDataDir();
  if (url !== undefined) {
    if (!/^file:\/\//i.test(url)) {
      throw new InvalidInputError('options.url', `unsupported scheme ${JSON.stringify(redactUrl(url).split(':')[0])}: use postgres://, postgresql:// or file://`);
    }
    dir = fileURLToPath(url);
  }
  return createFileDriver({
    dir,
    durability: opts.durability ?? 'full',
    ...(opts.onCorruption ? { onCorruption: opts.onCorruption } : {}),
    ...(opts.lockTimeoutMs !== undefined ? { lockTimeoutMs: opts.lockTimeoutMs } : {}),
  });
}

type Draft = EventBody;

/** What a write call turns into against the current state: events, and a hook run once they are folded. */
type Decision = Draft[] | null | { drafts: Draft[]; onApplied: OnApplied };

/** Runs once a call's events (seqs assigned) are folded into `s`; `added`: the messages they add. */
type OnApplied = (s: SessionState, added: readonly Message[]) => void;

/**
 * Turns a call into events against the state the calls before it left. Synchronous for most calls;
 * `bodies` reads messages it needs to compare or copy (through the held lock for the session's own log).
 */
type Decide = (state: SessionState, bodies: (seqs: readonly number[]) => Promise<Message[]>) => Decision | Promise<Decision>;

interface WriteFlags {
  /** A retried idempotent append must succeed even though the head moved past expectedSeq. */
  idempotentFirst?: boolean;
  evenIfDeleted?: boolean;
}

/** One write() call waiting to be decided, alone or in a batch with the calls queued behind the same lock. */
interface WriteRequest {
  expectedSeq: number | undefined;
  decide: Decide;
  flags: WriteFlags;
  resolve: (state: SessionState) => void;
  reject: (err: unknown) => void;
}

/** A call's events (seqs assigned), and the hook to run once they are folded. */
interface DecidedWrite {
  events: StoredEvent[];
  /** The messages `events` add, built once: handed to onApplied and kept in the body cache once written. */
  added: Message[];
  onApplied: OnApplied | null;
}

/** Bounds one batched append (a burst beyond it continues in the next append). */
const MAX_WRITES_PER_APPEND = 256;

export class SessionStore {
  readonly driver: SessionDriver;
  /** Folded sessions, least recently used first (Map order), bounded by `cacheSessions`. */
  private readonly cache = new Map<string, SessionState>();
  private readonly prefixes = new Map<string, MessagePrefix>();
  private readonly mutex = new KeyedMutex();
  /** Per session: write() calls that arrived while another write held the session, to commit as one append. */
  private readonly waiting = new Map<string, WriteRequest[]>();
  private closed = false;

  private readonly cacheSessions: number;
  private readonly bodies: MessageBodies;

  constructor(driver: SessionDriver, options: { cacheSessions?: number; cacheMessages?: number } = {}) {
    this.driver = driver;
    this.cacheSessions = options.cacheSessions ?? DEFAULT_CACHE_SESSIONS;
    this.bodies = new MessageBodies(
      async (logId, afterSeq, untilSeq) => checked(logId, await this.driver.readEvents(logId, afterSeq, untilSeq)),
      options.cacheMessages ?? DEFAULT_CACHE_MESSAGES,
    );
  }

  private cached(id: string): SessionState | undefined {
    const state = this.cache.get(id);
    if (state) {
      this.cache.delete(id);
      this.cache.set(id, state);
    }
    return state;
  }

  private remember(id: string, state: SessionState): void {
    this.cache.delete(id);
    this.cache.set(id, state);
    while (this.cache.size > this.cacheSessions) this.cache.delete(this.cache.keys().next().value!);
  }

  // ---------------------------------------------------------------- sessions

  async createSession(input: CreateSessionInput = {}, options: WriteOptions = {}): Promise<SessionInfo> {
    const given = assertOptionsObject(input, 'input');
    writeOptions(options);
    const id = given.id === undefined ? uuidv7() : given.id;
    assertSessionId(id, 'input.id');
    const parentId = given.parentId === undefined || given.parentId === null ? null : given.parentId;
    if (parentId !== null) assertSessionId(parentId, 'input.parentId');
    if (parentId === id) throw new InvalidInputError('input.parentId', 'a session cannot be its own parent');
    const header = {
      id,
      title: optionalString(given.title, 'input.title'),
      parentId,
      forkedFrom: null,
      agentName: optionalString(given.agentName, 'input.agentName', 1000),
      userId: optionalString(given.userId, 'input.userId', 1000),
      metadata: given.metadata === undefined ? {} : toJsonObject(given.metadata, 'input.metadata'),
    };
    if (parentId !== null) await this.load(parentId);
    const state = await this.createLog(id, [{ type: 'session.created', session: header }], 1, NO_PREFIX);
    if (parentId !== null) await this.confirmParentAlive(parentId, id);
    return sessionInfo(state);
  }

  async getSession(id: string): Promise<Session> {
    return this.reading(id, async (state) => sessionView(state, await this.bodies.get(state, state.visible, false)));
  }

  async getSessionInfo(id: string): Promise<SessionInfo> {
    return sessionInfo(await this.load(id));
  }

  async sessionExists(id: string): Promise<boolean> {
    assertSessionId(id, 'id');
    try {
      await this.load(id);
      return true;
    } catch (err) {
      if (err instanceof SessionNotFoundError) return false;
      throw err;
    }
  }

  async listSessions(options: ListSessionsOptions = {}): Promise<SessionPage> {
    const o = assertOptionsObject(options, 'options') as ListSessionsOptions;
    const limit = optionalLimit(o.limit, 'options.limit') ?? DEFAULT_PAGE;
    if (limit < 1 || limit > MAX_PAGE) throw new InvalidInputError('options.limit', `must be between 1 and ${MAX_PAGE}`);
    for (const key of ['parentId', 'agentName', 'userId'] as const) {
      if (o[key] !== undefined && typeof o[key] !== 'string') throw new InvalidInputError(`options.${key}`, 'must be a string');
    }
    if (o.parentId !== undefined) assertSessionId(o.parentId, 'options.parentId');
    const query = {
      limit,
      after: o.cursor === undefined || o.cursor === null ? null : decodeCursor(o.cursor),
      ...(o.parentId !== undefined ? { parentId: o.parentId } : {}),
      ...(o.agentName !== undefined ? { agentName: o.agentName } : {}),
      ...(o.userId !== undefined ? { userId: o.userId } : {}),
      ...(o.rootsOnly ? { rootsOnly: true } : {}),
    };
    let page = await this.driver.list(query);
    if (page.staleIds && page.staleIds.length > 0) {
      // An index write was lost (crash between log and index): re-derive those entries from their logs.
      for (const staleId of page.staleIds) await this.reindex(staleId);
      page = await this.driver.list(query);
    }
    return {
      sessions: page.sessions.map(infoFromSummary),
      nextCursor: page.next ? encodeCursor(page.next) : null,
    };
  }

  /**
   * Deletes a session. Children are kept, detached (a fork's inherited messages are copied into it
   * first, so no child ever loses history), unless `cascade` deletes the whole subtree.
   */
  async deleteSession(id: string, options: WriteOptions & { cascade?: boolean } = {}): Promise<void> {
    assertSessionId(id, 'id');
    const expectedSeq = writeOptions(options);
    // The fence: once written, forks and child creations of this session fail, so the listing of
    // children below is complete.
    await this.write(id, expectedSeq, (state) => (state.deleted ? null : [{ type: 'session.deleted' }]));
    await this.finishDeletion(id, options.cascade === true);
  }

  async clearSession(id: string, options: WriteOptions = {}): Promise<SessionInfo> {
    return sessionInfo(await this.write(id, writeOptions(options), () => [{ type: 'session.cleared' }]));
  }

  async updateMetadata(id: string, patch: Record<string, unknown>, options: WriteOptions = {}): Promise<SessionInfo> {
    assertSessionId(id, 'id');
    const clean = toJsonObject(patch, 'patch');
    const state = await this.write(id, writeOptions(options), () =>
      Object.keys(clean).length === 0 ? null : [{ type: 'metadata.patched', patch: clean }],
    );
    return sessionInfo(state);
  }

  async setTitle(id: string, title: string | null, options: WriteOptions = {}): Promise<SessionInfo> {
    assertSessionId(id, 'id');
    if (title !== null && typeof title !== 'string') throw new InvalidInputError('title', 'must be a string or null');
    const clean = optionalString(title, 'title');
    return sessionInfo(await this.write(id, writeOptions(options), () => [{ type: 'title.set', title: clean }]));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cache.clear();
    this.prefixes.clear();
    this.bodies.clear();
    await this.driver.close();
  }

  // ---------------------------------------------------------------- messages

  async addMessage(id: string, input: MessageInput, options: WriteOptions = {}): Promise<Message> {
    const [message] = await this.appendMessages(id, [input], options, 'message');
    return message!;
  }

  /** Appends messages atomically: all of them or none. Messages whose id is already stored are not re-added. */
  async addMessages(id: string, inputs: MessageInput[], options: WriteOptions = {}): Promise<Message[]> {
    return this.appendMessages(id, inputs, options, 'messages');
  }

  /** `field` names the argument in validation errors: `message` for addMessage, `messages[i]` for a batch. */
  private async appendMessages(id: string, inputs: MessageInput[], options: WriteOptions, field: 'message' | 'messages'): Promise<Message[]> {
    assertSessionId(id, 'id');
    if (!Array.isArray(inputs)) throw new InvalidInputError(field, 'must be an array');
    const records = inputs.map((m, i) => parseMessageInput(m, field === 'message' ? field : `${field}[${i}]`));
    const expectedSeq = writeOptions(options);
    let resolved: Message[] = [];
    /** The call's events, given the bodies of the messages its ids already name (a retry returns those). */
    const decide = (storedById: ReadonlyMap<string, Message>): Decision => {
      const drafts: Draft[] = [];
      const pending = new Map<string, MessageRecord>();
      const order: Array<{ existing?: Message; id: string }> = [];
      for (const [i, r] of records.entries()) {
        const path = field === 'message' ? 'message.id' : `${field}[${i}].id`;
        if (r.id !== undefined) {
          const stored = storedById.get(r.id);
          if (stored) {
            if (!sameRecord(stored, r)) throw new InvalidInputError(path, `${r.id} is already used by a different message`);
            order.push({ existing: stored, id: r.id });
            continue;
          }
          const batched = pending.get(r.id);
          if (batched) {
            if (!sameRecord(batched, r)) throw new InvalidInputError(path, `${r.id} appears twice with different content`);
            order.push({ id: r.id });
            continue;
          }
        }
        const record = { ...r, id: r.id ?? uuidv7() } as MessageRecord;
        pending.set(record.id, record);
        drafts.push({ type: 'message.added', message: record });
        order.push({ id: record.id });
      }
      const onApplied: OnApplied = (_s, added) => {
        const byId = new Map(added.map((m) => [m.id, m]));
        resolved = order.map((o) => o.existing ?? byId.get(o.id)!);
      };
      return { drafts, onApplied };
    };
    await this.write(
      id,
      expectedSeq,
      (current, bodies) => {
        const known: number[] = [];
        for (const r of records) {
          const seq = r.id === undefined ? undefined : findSeq(current, r.id);
          if (seq !== undefined) known.push(seq);
        }
        if (known.length === 0) return decide(new Map());
        return bodies(known.sort((a, b) => a - b)).then((stored) => decide(new Map(stored.map((m) => [m.id, m]))));
      },
      // A retried idempotent append must succeed even though the head moved past expectedSeq.
      { idempotentFirst: true },
    );
    return resolved;
  }

  async getMessages(id: string, options: GetMessagesOptions = {}): Promise<Message[]> {
    const o = assertOptionsObject(options, 'options') as GetMessagesOptions;
    const limit = optionalLimit(o.limit, 'options.limit');
    const afterSeq = optionalSeq(o.afterSeq, 'options.afterSeq');
    const beforeSeq = optionalSeq(o.beforeSeq, 'options.beforeSeq');
    return this.reading(id, (state) => {
      const source = o.includeReverted ? historySeqs(state) : arraySource(state.visible);
      const from = afterSeq === undefined ? 0 : firstAfterIn(source, afterSeq);
      let to = beforeSeq === undefined ? source.length : firstAfterIn(source, beforeSeq - 1);
      if (to < from) to = from;
      const start = limit === undefined ? from : Math.max(from, to - limit);
      const page: number[] = [];
      for (let i = start; i < to; i++) page.push(source.seqAt(i));
      // Only the page's bodies are read; a page at the head is kept for the next call.
      return this.bodies.get(state, page, source.length - start <= HEAD_PAGE);
    });
  }

  async getChatHistory(id: string, options: { maxMessages?: number } = {}): Promise<ChatMessage[]> {
    const o = assertOptionsObject(options, 'options');
    const max = optionalLimit(o.maxMessages, 'options.maxMessages');
    return this.reading(id, async (state) => {
      const window = chatWindow(state, max);
      return chatHistory(window, await this.bodies.get(state, window.seqs, window.seqs.length <= HEAD_PAGE));
    });
  }

  // ---------------------------------------------------------------- hierarchy

  /** Forks by reference: the child records where it branched and reads that prefix from the parent. */
  async forkSession(id: string, options: ForkOptions = {}): Promise<SessionInfo> {
    assertSessionId(id, 'id');
    const o = assertOptionsObject(options, 'options') as ForkOptions;
    if (o.atMessageId !== undefined && o.atIndex !== undefined) {
      throw new InvalidInputError('options', 'give atMessageId or atIndex, not both');
    }
    const childId = o.id === undefined ? uuidv7() : o.id;
    assertSessionId(childId, 'options.id');
    const title = o.title === undefined ? undefined : optionalString(o.title, 'options.title');
    const parent = await this.load(id);
    let at = parent.visible.length - 1;
    if (o.atMessageId !== undefined) at = visibleIndexOf(parent, o.atMessageId);
    if (o.atIndex !== undefined) at = checkIndex(parent, o.atIndex, 'options.atIndex');
    const atSeq = at >= 0 ? parent.visible[at]! : null;
    // The fork reads the parent's log up to forkedFrom.seq: never before the parent's own first event,
    // even when the fork point is a message the parent itself inherited.
    const forkedFrom =
      atSeq !== null ? { messageId: idOfSeq(parent, atSeq)!, seq: Math.max(atSeq, parent.firstSeq) } : { messageId: null, seq: parent.headSeq };
    // Shared, not copied: forking costs the same at message 10 and at message 100 000.
    const prefix = foldPrefix(parent, at + 1);
    this.rememberPrefix(id, forkedFrom.seq, forkedFrom.messageId, prefix);
    const header = {
      id: childId,
      title: title === undefined ? `Fork of ${parent.header.title ?? parent.header.id}` : title,
      parentId: id,
      forkedFrom,
      agentName: parent.header.agentName,
      userId: parent.header.userId,
      metadata: structuredClone(parent.header.metadata),
    };
    // The child's log continues the parent's numbering, so seqs increase along its whole history.
    const state = await this.createLog(childId, [{ type: 'session.created', session: header }], forkedFrom.seq + 1, prefix);
    await this.confirmParentAlive(id, childId);
    return sessionInfo(state);
  }

  async getChildren(id: string): Promise<SessionInfo[]> {
    await this.load(id);
    return this.childrenOf(id);
  }

  async getParent(id: string): Promise<SessionInfo | null> {
    const state = await this.load(id);
    const parentId = state.header.parentId;
    if (parentId === null) return null;
    try {
      return sessionInfo(await this.load(parentId));
    } catch (err) {
      if (err instanceof SessionNotFoundError) return null;
      throw err;
    }
  }

  /** The subtree under `id`. Cycle-safe: a session already in the tree is never visited twice. */
  async getSessionTree(id: string): Promise<SessionTreeNode> {
    const root = sessionInfo(await this.load(id));
    const seen = new Set<string>([root.id]);
    const build = async (info: SessionInfo): Promise<SessionTreeNode> => {
      const children: SessionTreeNode[] = [];
      for (const child of await this.childrenOf(info.id)) {
        if (seen.has(child.id)) continue;
        seen.add(child.id);
        children.push(await build(child));
      }
      return { id: info.id, title: info.title, messageCount: info.messageCount, children };
    };
    return build(root);
  }

  // ---------------------------------------------------------------- snapshots and revert

  async createSnapshot(id: string, input: SnapshotInput = {}, options: WriteOptions = {}): Promise<Snapshot> {
    assertSessionId(id, 'id');
    const o = assertOptionsObject(input, 'input');
    const snapshot = {
      id: uuidv7(),
      label: optionalString(o.label, 'input.label', 1000),
      metadata: o.metadata === undefined ? {} : toJsonObject(o.metadata, 'input.metadata'),
    };
    const state = await this.write(id, writeOptions(options), () => [{ type: 'snapshot.created', snapshot }]);
    return snapshotView(state, state.snapshots.find((s) => s.id === snapshot.id)!);
  }

  async listSnapshots(id: string): Promise<Snapshot[]> {
    const state = await this.load(id);
    return state.snapshots.map((s) => snapshotView(state, s));
  }

  /** Shows exactly the messages the snapshot captured. Soft: `unrevert()` undoes it until the next message. */
  async revertToSnapshot(id: string, snapshotId: string, options: WriteOptions = {}): Promise<SessionInfo> {
    assertSessionId(id, 'id');
    if (typeof snapshotId !== 'string') throw new InvalidInputError('snapshotId', 'must be a string');
    const state = await this.write(id, writeOptions(options), (s) => {
      const snap = s.snapshots.find((x) => x.id === snapshotId);
      if (!snap) throw new SnapshotNotFoundError(id, snapshotId);
      const last = snap.messages[snap.messages.length - 1];
      return [{ type: 'revert.applied', toMessageId: last === undefined ? null : idOfSeq(s, last)!, snapshotId }];
    });
    return sessionInfo(state);
  }

  /** Keeps messages up to and including the given one (id, or index among visible messages). */
  async revertToMessage(id: string, messageIdOrIndex: string | number, options: WriteOptions = {}): Promise<SessionInfo> {
    assertSessionId(id, 'id');
    const state = await this.write(id, writeOptions(options), (s) => {
      let target: string;
      if (typeof messageIdOrIndex === 'number') {
        target = idOfSeq(s, s.visible[checkIndex(s, messageIdOrIndex, 'messageIdOrIndex')]!)!;
      } else if (typeof messageIdOrIndex === 'string') {
        const base = s.revert ? s.revert.restore : s.visible;
        const seq = findSeq(s, messageIdOrIndex);
        if (seq === undefined || indexOfSeq(base, seq) < 0) {
          throw new MessageNotFoundError(id, messageIdOrIndex, seq !== undefined ? 'is not visible' : 'not found');
        }
        target = messageIdOrIndex;
      } else {
        throw new InvalidInputError('messageIdOrIndex', 'must be a message id or an index');
      }
      return [{ type: 'revert.applied', toMessageId: target, snapshotId: null }];
    });
    return sessionInfo(state);
  }

  /** Brings back what the pending revert hid. A no-op when nothing is reverted (safe to retry). */
  async unrevert(id: string, options: WriteOptions = {}): Promise<SessionInfo> {
    assertSessionId(id, 'id');
    const state = await this.write(id, writeOptions(options), (s) => (s.revert ? [{ type: 'revert.undone' }] : null));
    return sessionInfo(state);
  }

  /** Records a compaction summary: `getChatHistory` then sends it in place of the messages it covers. */
  async addCompactionCheckpoint(id: string, input: CheckpointInput, options: WriteOptions = {}): Promise<CompactionCheckpoint> {
    assertSessionId(id, 'id');
    const o = assertOptionsObject(input, 'input');
    if (typeof o.summary !== 'string' || o.summary.length === 0) throw new InvalidInputError('input.summary', 'must be a non-empty string');
    const summary = o.summary;
    const metadata = o.metadata === undefined ? {} : toJsonObject(o.metadata, 'input.metadata');
    const state = await this.write(id, writeOptions(options), (s) => {
      let through: string;
      if (o.throughMessageId !== undefined) through = idOfSeq(s, s.visible[visibleIndexOf(s, o.throughMessageId as string)]!)!;
      else if (o.throughIndex !== undefined) through = idOfSeq(s, s.visible[checkIndex(s, o.throughIndex, 'input.throughIndex')]!)!;
      else throw new InvalidInputError('input.throughMessageId', 'give throughMessageId or throughIndex');
      return [{ type: 'compaction.checkpoint', summary, throughMessageId: through, metadata }];
    });
    return structuredClone(state.checkpoint!);
  }

  // ---------------------------------------------------------------- sharing

  /** Returns the session's share token, creating one (256 random bits) if it has none. */
  async shareSession(id: string, options: WriteOptions = {}): Promise<{ token: string }> {
    assertSessionId(id, 'id');
    const state = await this.write(id, writeOptions(options), (s) =>
      s.shareToken !== null ? null : [{ type: 'share.enabled', token: newShareToken() }],
    );
    return { token: state.shareToken! };
  }

  /** Revokes the share token at once. A no-op when not shared. */
  async unshareSession(id: string, options: WriteOptions = {}): Promise<SessionInfo> {
    assertSessionId(id, 'id');
    const state = await this.write(id, writeOptions(options), (s) => (s.shareToken === null ? null : [{ type: 'share.disabled' }]));
    return sessionInfo(state);
  }

  async isShared(id: string): Promise<boolean> {
    return (await this.load(id)).shareToken !== null;
  }

  /** A read-only (frozen) view of a shared session. Unknown or revoked tokens: SessionNotFoundError. */
  async getSharedSession(token: string): Promise<Readonly<Session>> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 256) {
      throw new InvalidInputError('token', 'must be a share token string');
    }
    const hash = hashShareToken(token);
    const id = await this.driver.findByShareTokenHash(hash);
    if (id !== null) {
      try {
        const view = await this.reading(id, async (state) =>
          state.shareToken !== null && timingSafeEqual(Buffer.from(hashShareToken(state.shareToken), 'hex'), Buffer.from(hash, 'hex'))
            ? sessionView(state, await this.bodies.get(state, state.visible, false))
            : null,
        );
        if (view) return Object.freeze(view);
      } catch (err) {
        if (!(err instanceof SessionNotFoundError)) throw err;
      }
    }
    throw new SessionNotFoundError('(shared session)');
  }

  // ---------------------------------------------------------------- export / import

  /** A versioned, self-contained document (see ARCHITECTURE.md): history, snapshots, revert state. */
  async exportSession(id: string): Promise<SessionExport> {
    return this.reading(id, async (state) => {
      const events = checked(id, await this.driver.readEvents(id, 0, state.headSeq));
      if (events === null) throw new SessionNotFoundError(id);
      return exportDocument(state, events, await this.bodies.get(state, state.prefix.seqs.slice(0, state.prefix.length), false));
    });
  }

  /** Imports a threadloom export, or a reference-store (PraisonAI) JSON session file. Never overwrites. */
  async importSession(doc: unknown, options: { id?: string } = {}): Promise<SessionInfo> {
    const o = assertOptionsObject(options, 'options');
    if (o.id !== undefined) assertSessionId(o.id, 'options.id');
    const plan = importPlan(doc, o.id as string | undefined, uuidv7);
    let parentId = plan.header.parentId;
    if (parentId !== null && !(await this.sessionExists(parentId).catch(() => false))) parentId = null;
    const created = { ...plan.created, session: { ...plan.header, parentId } };
    const state = await this.createLogFromEvents(plan.header.id, [created, ...plan.rest]);
    if (parentId !== null) await this.confirmParentAlive(parentId, plan.header.id);
    return sessionInfo(state);
  }

  // ---------------------------------------------------------------- change notifications

  /**
   * Yields the session's new events as any process appends them (drivers with the `watch`
   * capability). Starts after `afterSeq` (default: the current head). Stop with `signal` or `break`.
   */
  async *watch(id: string, options: { afterSeq?: number; signal?: AbortSignal } = {}): AsyncGenerator<StoredEvent> {
    assertSessionId(id, 'id');
    const subscribe = this.driver.subscribe?.bind(this.driver);
    if (!this.driver.capabilities.watch || !subscribe) {
      throw new InvalidInputError('store', `the ${this.driver.name} driver does not support watch()`);
    }
    let seen = optionalSeq(options.afterSeq, 'options.afterSeq') ?? (await this.load(id)).headSeq;
    let wake: (() => void) | null = null;
    let dirty = true;
    const poke = () => {
      dirty = true;
      wake?.();
    };
    const stop = await subscribe(id, poke);
    options.signal?.addEventListener('abort', poke, { once: true });
    try {
      while (!options.signal?.aborted) {
        if (!dirty) await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
        dirty = false;
        if (options.signal?.aborted) break;
        const events = checked(id, await this.driver.readEvents(id, seen));
        if (events === null) throw new SessionNotFoundError(id);
        for (const e of events) {
          seen = e.seq;
          yield e;
        }
      }
    } finally {
      options.signal?.removeEventListener('abort', poke);
      await stop();
    }
  }

  // ---------------------------------------------------------------- maintenance

  /** Re-derives a session's index entry from its log (repairs a lost index write). */
  async reindex(id: string): Promise<void> {
    assertSessionId(id, 'id');
    this.cache.delete(id);
    const state = await this.loadAny(id);
    if (!state) return;
    try {
      await this.driver.putSummary(sessionSummary(state));
    } catch (err) {
      // Another writer appended meanwhile; its append wrote a newer entry than ours.
      if (!(err instanceof StaleSessionError)) throw err;
    }
  }

  /**
   * Repairs one session the way its next writer would: under its write lock a torn tail is cut off and
   * quarantined (reported through onCorruption), then its index entry is re-derived from the log.
   */
  async repair(id: string): Promise<void> {
    assertSessionId(id, 'id');
    await this.write(id, undefined, () => null, { evenIfDeleted: true });
    await this.reindex(id);
  }

  /** Completes deletions interrupted by a crash (a log with its deletion fence but not yet removed). */
  async finishPendingDeletion(id: string): Promise<boolean> {
    const state = await this.loadAny(id);
    if (!state || !state.deleted) return false;
    await this.finishDeletion(id, false);
    return true;
  }

  // ---------------------------------------------------------------- internals

  /** The session's state at the log's current head, or SessionNotFoundError (also for deleted ones). */
  private async load(id: string): Promise<SessionState> {
    assertSessionId(id, 'id');
    const state = await this.loadAny(id);
    if (!state || state.deleted) throw new SessionNotFoundError(id);
    return state;
  }

  /** Like load, but returns deleted (fenced) sessions too, and null when no log exists. */
  private async loadAny(id: string): Promise<SessionState | null> {
    this.assertOpen();
    return this.mutex.run(id, () => this.current(id));
  }

  /** The cached fold brought up to the log's head (the caller holds the session's mutex). */
  private async current(id: string): Promise<SessionState | null> {
    const head = await this.driver.head(id);
    if (head === null) {
      this.cache.delete(id);
      return null;
    }
    const cached = this.cached(id);
    if (cached && cached.headSeq === head) return cached;
    if (cached && cached.headSeq < head) {
      // From the cached head event on: it must still be there, else the log was replaced (isHeadEvent).
      const events = checked(id, await this.driver.readEvents(id, cached.headSeq - 1));
      if (events && this.continueFold(cached, events)) return cached;
    }
    this.cache.delete(id);
    const state = await this.foldLog(id, undefined, head);
    if (state) this.remember(id, state);
    return state;
  }

  /**
   * Runs a read against the session's fold. A fold whose log was replaced under it (a message it
   * indexes is not there any more) is dropped and the read runs once more against a fresh fold.
   */
  private async reading<T>(id: string, read: (state: SessionState) => Promise<T>): Promise<T> {
    try {
      return await read(await this.load(id));
    } catch (err) {
      if (!(err instanceof StaleFoldError)) throw err;
      this.forgetLog(err.logId);
      this.cache.delete(id);
    }
    try {
      return await read(await this.load(id));
    } catch (err) {
      if (err instanceof StaleFoldError) throw new CorruptSessionError(id, err.message, null);
      throw err;
    }
  }

  /** Drops everything cached from a log: its fold and the fork prefixes read from it. */
  private forgetLog(id: string): void {
    this.cache.delete(id);
    for (const key of this.prefixes.keys()) if (key.startsWith(`${id}@`)) this.prefixes.delete(key);
  }

  /**
   * Folds a log from its start up to `untilSeq` (inclusive; the head when absent), FOLD_CHUNK events at
   * a time, so a long log is never held in memory as events. `head`, when known, sizes the fold's index
   * once. Null when no log exists.
   */
  private async foldLog(id: string, untilSeq?: number, head?: number): Promise<SessionState | null> {
    let state: SessionState | null = null;
    let last: StoredEvent[] = [];
    for await (const events of this.logChunks(id, untilSeq)) {
      let from = 0;
      if (state === null) {
        const created = events[0]!;
        const expected = Math.max(0, (untilSeq ?? head ?? 0) - created.seq);
        state = initialState(created, await this.prefixFor(id, created), expected);
        if (state.header.id !== id) throw new CorruptSessionError(id, `its log belongs to session ${JSON.stringify(state.header.id)}`, null);
        from = 1;
      }
      for (let i = from; i < events.length; i++) applyEvent(state, events[i]!);
      last = events;
    }
    // The newest messages are the ones read next: keep their bodies, parsed anyway.
    if (state) this.bodies.keepEvents(state, last);
    return state;
  }

  /** A log's events from its start up to `untilSeq` (inclusive), FOLD_CHUNK at a time, checked; nothing when no log exists. */
  private async *logChunks(id: string, untilSeq?: number): AsyncGenerator<StoredEvent[]> {
    for (let after = 0; untilSeq === undefined || after < untilSeq; ) {
      const events = checked(id, await this.driver.readEvents(id, after, untilSeq, FOLD_CHUNK));
      if (events === null || events.length === 0) return;
      yield events;
      if (events.length < FOLD_CHUNK) return;
      after = events[events.length - 1]!.seq;
    }
  }

  /**
   * Catches `state` up from events that start with its head event, read again: false when another event
   * sits at its head seq now (the log was deleted and recreated under the fold) or the rest does not follow.
   */
  private continueFold(state: SessionState, fromHead: readonly StoredEvent[]): boolean {
    const first = fromHead[0];
    return first !== undefined && isHeadEvent(state, first) && this.catchUp(state, fromHead.slice(1));
  }

  /** Applies tail events; false when they do not continue the cached fold (the log was replaced). */
  private catchUp(state: SessionState, events: readonly StoredEvent[]): boolean {
    if (events.length > 0 && events[0]!.seq !== state.headSeq + 1) return false;
    for (const e of events) applyEvent(state, e);
    this.bodies.keepEvents(state, events);
    return true;
  }

  /**
   * A fork's inherited messages: embedded in its created event (an import), else read from the parent's
   * log up to the fork point, else (the parent is gone) the copy its deletion wrote into this log.
   */
  private async prefixFor(id: string, created: StoredEvent): Promise<MessagePrefix> {
    const embedded = createdPrefix(created);
    if (embedded) return embeddedPrefix(embedded);
    if (created.type !== 'session.created' || !created.session.forkedFrom) return NO_PREFIX;
    const { parentId, forkedFrom } = created.session;
    let failure: unknown = null;
    if (parentId !== null) {
      try {
        const prefix = await this.forkPrefix(id, parentId, forkedFrom.seq, forkedFrom.messageId);
        if (prefix) return prefix;
      } catch (err) {
        // A parent log that no longer holds the fork point (replaced after a deletion): use the copy.
        if (!(err instanceof CorruptSessionError)) throw err;
        failure = err;
      }
    }
    const copy = await this.detachedCopy(id);
    if (copy) return embeddedPrefix(copy);
    if (failure) throw failure;
    throw new CorruptSessionError(id, `the log of parent ${JSON.stringify(parentId)} that holds its history is missing`, null);
  }

  /** The prefix the last `parent.detached` of this log carries, read page by page; null if none. */
  private async detachedCopy(id: string): Promise<Message[] | null> {
    let found: Message[] | null = null;
    for await (const events of this.logChunks(id)) for (const e of events) if (e.type === 'parent.detached') found = e.prefix;
    return found;
  }

  /**
   * The parent's visible messages up to the fork point, as of the fork's seq: immutable once written, so
   * cached by (parent, seq). Reads the parent's log only up to that seq. Null when the parent log is gone.
   */
  private async forkPrefix(childId: string, parentId: string, seq: number, messageId: string | null): Promise<MessagePrefix | null> {
    const key = prefixKey(parentId, seq, messageId);
    const hit = this.prefixes.get(key);
    if (hit) return hit;
    const parent = await this.foldLog(parentId, seq);
    if (parent === null) return null;
    const atSeq = messageId === null ? undefined : findSeq(parent, messageId);
    const at = atSeq === undefined ? -1 : indexOfSeq(parent.visible, atSeq);
    if (messageId !== null && at < 0) {
      throw new CorruptSessionError(childId, `fork point ${messageId} is not in parent ${JSON.stringify(parentId)} at seq ${seq}`, null);
    }
    const prefix = foldPrefix(parent, at + 1);
    this.rememberPrefix(parentId, seq, messageId, prefix);
    return prefix;
  }

  private rememberPrefix(parentId: string, seq: number, messageId: string | null, prefix: MessagePrefix): void {
    if (this.prefixes.size >= PREFIX_CACHE_ENTRIES) this.prefixes.delete(this.prefixes.keys().next().value!);
    this.prefixes.set(prefixKey(parentId, seq, messageId), prefix);
  }

  /**
   * The one write path. Inside the driver's atomic append: catch the cached fold up with whatever other
   * processes appended, check `expectedSeq`, let `decide` turn the request into events against that
   * fresh state, fold them, and hand the driver the events with the summary they produce.
   *
   * Calls that arrive while a write to the same session is in flight are committed together once it is
   * done: each is decided in turn against the state the ones before it left (so `expectedSeq` and
   * idempotency mean exactly what they mean one by one), and the batch is one append, one lock and one
   * fsync. Each call gets its own verdict; if the append itself fails, every call in it fails.
   */
  private write(
    id: string,
    expectedSeq: number | undefined,
    decide: Decide,
    flags: WriteFlags = {},
  ): Promise<SessionState> {
    return new Promise<SessionState>((resolve, reject) => {
      // Thrown here, these reject the returned promise (as from an async function), never throw synchronously.
      assertSessionId(id, 'id');
      this.assertOpen();
      const request: WriteRequest = { expectedSeq, decide, flags, resolve, reject };
      const waiting = this.waiting.get(id);
      if (waiting && waiting.length < MAX_WRITES_PER_APPEND) {
        waiting.push(request);
        return;
      }
      const batch = [request];
      this.waiting.set(id, batch);
      void this.mutex.run(id, () => {
        if (this.waiting.get(id) === batch) this.waiting.delete(id);
        return this.commit(id, batch);
      });
    });
  }

  /** Decides and appends one batch of write() calls (never rejects: each call is settled on its own). */
  private async commit(id: string, batch: WriteRequest[]): Promise<void> {
    let mutated = false;
    /** A speculative plan's outcome, folded into the cache only once the driver says it was written. */
    let speculated: DecidedWrite | null = null;
    /** Per call: null when it succeeded, else its own error. */
    let verdicts: unknown[] = [];
    /** The messages the batch's calls add (for the body cache once written). */
    let added: Message[] = [];
    let state: SessionState | null = null;
    let written: StoredEvent[];
    // Fold a session this store has not seen before taking its lock, page by page (unlocked reads of
    // committed events); under the lock only the tail is then read.
    if (!this.cache.has(id)) await this.current(id).catch(() => undefined);
    try {
      written = await this.driver.append(id, 'update', async (tx) => {
        // A driver that retries calls the plan again: what the failed attempt folded must go.
        if (mutated) {
          this.cache.delete(id);
          mutated = false;
        }
        speculated = null;
        verdicts = [];
        added = [];
        let s = this.cached(id) ?? null;
        if (s && s.headSeq <= tx.headSeq && (s.headSeq === tx.headSeq || this.continueFold(s, checked(id, await tx.readAfter(s.headSeq - 1))!))) {
          // caught up (with committed events only, so this holds even for a speculative plan)
        } else if (tx.speculative) {
          // This handle knows a later head than the driver's guess, or nothing: decide under the lock.
          throw new SpeculationDeclined();
        } else {
          // The log was replaced since it was folded: fold it again, under the lock.
          const events = checked(id, await tx.readAfter(0))!;
          s = ownFold(id, events, await this.prefixFor(id, events[0]!));
          this.remember(id, s);
        }
        state = s;
        const at = new Date().toISOString();
        /** Events decided in this batch but not written yet: a later call may need their bodies. */
        const pending: StoredEvent[] = [];
        const locked: LockedLog = {
          logId: id,
          read: async (after, until) => [...(await tx.readAfter(after, until)), ...pending.filter((e) => e.seq > after && e.seq <= until)],
        };
        const fold = s;
        const bodies = (seqs: readonly number[]) => this.bodies.get(fold, seqs, false, locked);
        if (tx.speculative) {
          // Only a lone call is decided on a guessed head (one round trip on PostgreSQL), and only when it
          // writes new messages: nothing to write can still be an answer that needs the lock (a barrier, a
          // deletion check). The write may be discarded (the head moved), so the cache is left as it is.
          if (batch.length > 1) throw new SpeculationDeclined();
          const decision = await decideWrite(id, s, batch[0]!, at, bodies);
          const summary = decision.events.length === 0 ? null : previewSummary(s, decision.events);
          if (summary === null) throw new SpeculationDeclined();
          speculated = decision;
          verdicts = [null];
          return { events: decision.events, summary };
        }
        const events: StoredEvent[] = [];
        for (const request of batch) {
          let decision: DecidedWrite;
          try {
            decision = await decideWrite(id, s, request, at, bodies);
          } catch (err) {
            // A lone call's refusal aborts the append as before; in a batch it is that call's verdict only.
            if (batch.length === 1) throw err;
            verdicts.push(err);
            continue;
          }
          if (decision.events.length > 0) mutated = true;
          for (const e of decision.events) applyEvent(s, e);
          decision.onApplied?.(s, decision.added);
          events.push(...decision.events);
          added.push(...decision.added);
          pending.push(...decision.events);
          verdicts.push(null);
        }
        return events.length === 0 ? null : { events, summary: sessionSummary(s) };
      });
    } catch (err) {
      // Events folded for a write that did not land must not stay in the cache.
      if (mutated) this.cache.delete(id);
      for (const request of batch) request.reject(err);
      return;
    }
    const final = state as SessionState | null;
    const landed = speculated as DecidedWrite | null;
    if (final && landed && written === landed.events) {
      for (const e of landed.events) applyEvent(final, e);
      this.remember(id, final);
      landed.onApplied?.(final, landed.added);
    }
    if (final) for (const m of landed && written === landed.events ? landed.added : added) this.bodies.keep(final, m);
    batch.forEach((request, i) => (verdicts[i] === null ? request.resolve(final!) : request.reject(verdicts[i])));
  }

  private async createLog(id: string, drafts: Draft[], firstSeq: number, prefix: MessagePrefix): Promise<SessionState> {
    const at = new Date().toISOString();
    const events = drafts.map((d, i) => ({ ...d, seq: firstSeq + i, at }) as StoredEvent);
    return this.createLogFromEvents(id, events, prefix);
  }

  private async createLogFromEvents(id: string, events: StoredEvent[], prefix: MessagePrefix = NO_PREFIX): Promise<SessionState> {
    this.assertOpen();
    const state = foldEvents(events, prefix);
    try {
      await this.mutex.run(id, () => this.driver.append(id, 'create', async () => ({ events, summary: sessionSummary(state) })));
    } catch (err) {
      if (!(err instanceof SessionExistsError)) throw err;
      // A deletion interrupted by a crash leaves a fenced log behind; finish it and take the id.
      if (!(await this.finishPendingDeletion(id))) throw err;
      await this.mutex.run(id, () => this.driver.append(id, 'create', async () => ({ events, summary: sessionSummary(state) })));
    }
    this.remember(id, state);
    return state;
  }

  /**
   * Closes the race between creating a child and deleting its parent: taking the parent's write lock
   * after the child exists means either the deletion fence comes later (and its listing sees the child)
   * or it came first, in which case the child is removed again and the caller gets SessionNotFoundError.
   */
  private async confirmParentAlive(parentId: string, childId: string): Promise<void> {
    try {
      await this.write(parentId, undefined, () => null);
    } catch (err) {
      // The call fails, so it must leave nothing behind: the caller may retry with the same id.
      this.cache.delete(childId);
      await this.mutex.run(childId, () => this.driver.remove(childId)).catch(() => undefined);
      throw err;
    }
  }

  private async childrenOf(id: string, includeDeleted = false): Promise<SessionInfo[]> {
    const out: SessionInfo[] = [];
    let after: ListCursor | null = null;
    do {
      const page = await this.driver.list({ parentId: id, limit: MAX_PAGE, after, ...(includeDeleted ? { includeDeleted } : {}) });
      out.push(...page.sessions.map(infoFromSummary));
      after = page.next;
    } while (after !== null);
    return out;
  }

  private async finishDeletion(id: string, cascade: boolean): Promise<void> {
    for (const child of await this.childrenOf(id, true)) {
      if (cascade) {
        await this.write(child.id, undefined, (s) => (s.deleted ? null : [{ type: 'session.deleted' }]), { evenIfDeleted: true });
        await this.finishDeletion(child.id, true);
      } else {
        // Even a child whose own deletion is under way is detached: its children may still need the
        // prefix it inherits from this session.
        await this.write(
          child.id,
          undefined,
          async (s, bodies) =>
            s.header.parentId !== id ? null : [{ type: 'parent.detached', prefix: await bodies(s.prefix.seqs.slice(0, s.prefix.length)) }],
          { evenIfDeleted: true },
        );
      }
    }
    await this.mutex.run(id, () => this.driver.remove(id));
    this.forgetLog(id);
  }

  private assertOpen(): void {
    if (this.closed) throw new InvalidInputError('store', 'is closed');
  }
}

// ------------------------------------------------------------------ helpers

/** Folds a session's log, refusing a log that names another session (a misplaced or renamed file). */
/** One call's verdict against `state` (which already holds the effects of the calls decided before it). */
async function decideWrite(
  id: string,
  state: SessionState,
  request: WriteRequest,
  at: string,
  bodies: (seqs: readonly number[]) => Promise<Message[]>,
): Promise<DecidedWrite> {
  const { expectedSeq, flags } = request;
  if (state.deleted && !flags.evenIfDeleted) throw new SessionNotFoundError(id);
  const stale = expectedSeq !== undefined && state.headSeq !== expectedSeq;
  if (stale && !flags.idempotentFirst) throw new StaleSessionError(id, expectedSeq, state.headSeq);
  const decided = await request.decide(state, bodies);
  const drafts = decided === null ? [] : Array.isArray(decided) ? decided : decided.drafts;
  if (stale && drafts.length > 0) throw new StaleSessionError(id, expectedSeq!, state.headSeq);
  const events = drafts.map((d, i) => ({ ...d, seq: state.headSeq + 1 + i, at }) as StoredEvent);
  const added: Message[] = [];
  for (const e of events) if (e.type === 'message.added') added.push(messageFromRecord(e.message, e.seq, e.at));
  return {
    events,
    added,
    onApplied: decided && !Array.isArray(decided) ? decided.onApplied : null,
  };
}

function ownFold(id: string, events: StoredEvent[], prefix: MessagePrefix): SessionState {
  const state = foldEvents(events, prefix);
  if (state.header.id !== id) throw new CorruptSessionError(id, `its log belongs to session ${JSON.stringify(state.header.id)}`, null);
  return state;
}

/**
 * Every event a driver hands back is checked before the fold sees it, whatever the backend: a damaged
 * or foreign record is a CorruptSessionError, never a TypeError deep inside the fold.
 */
function checked<T extends StoredEvent[] | null>(id: string, events: T): T {
  if (events === null) return events;
  for (const [i, e] of events.entries()) {
    const previous = events[i - 1];
    if (!isStoredEvent(e) || (previous && e.seq !== previous.seq + 1)) {
      throw new CorruptSessionError(id, `malformed or out-of-order event at position ${i} (seq ${String((e as { seq?: unknown })?.seq)})`, null);
    }
  }
  return events;
}

/** Forks of a fork at different inherited messages share the parent's seq: the message is part of the key. */
function prefixKey(parentId: string, seq: number | string, messageId: string | null): string {
  return `${parentId}@${seq}#${messageId ?? ''}`;
}

function writeOptions(options: WriteOptions): number | undefined {
  const o = assertOptionsObject(options, 'options');
  return optionalSeq(o.expectedSeq, 'options.expectedSeq');
}

function visibleIndexOf(state: SessionState, messageId: string): number {
  if (typeof messageId !== 'string') throw new InvalidInputError('messageId', 'must be a string');
  const seq = findSeq(state, messageId);
  const at = seq === undefined ? -1 : indexOfSeq(state.visible, seq);
  if (at < 0) throw new MessageNotFoundError(state.header.id, messageId, seq !== undefined ? 'is not visible' : 'not found');
  return at;
}

function checkIndex(state: SessionState, index: unknown, field: string): number {
  if (!Number.isSafeInteger(index)) throw new InvalidInputError(field, `must be an integer, got ${String(index)}`);
  const i = index as number;
  if (i < 0 || i >= state.visible.length) {
    throw new MessageNotFoundError(state.header.id, i, `is out of range (the session shows ${state.visible.length} messages)`);
  }
  return i;
}

function sameRecord(a: Omit<MessageRecord, 'id'> | Message, b: Omit<MessageRecord, 'id'>): boolean {
  const pick = (m: Omit<MessageRecord, 'id'>) =>
    canonicalJson({ role: m.role, content: m.content, toolCalls: m.toolCalls, toolCallId: m.toolCallId, name: m.name, metadata: m.metadata });
  return pick(a) === pick(b);
}

/** JSON with sorted keys, so equal content compares equal whatever the key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v,
  );
}

function encodeCursor(c: ListCursor): string {
  return Buffer.from(JSON.stringify([c.updatedAt, c.id]), 'utf8').toString('base64url');
}

function decodeCursor(cursor: unknown): ListCursor {
  if (typeof cursor !== 'string' || cursor.length > 1024) throw new InvalidInputError('options.cursor', 'must be a cursor string from a previous page');
  try {
    const [updatedAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof updatedAt === 'string' && isValidSessionId(id)) return { updatedAt, id };
  } catch {
    // fall through
  }
  throw new InvalidInputError('options.cursor', 'is not a cursor returned by listSessions');
}

export type { SessionExport } from './core/exchange.js';
export type { SessionSummary, JsonObject };
