/**
 * The fold: session state as a function of its event log. No I/O and no clock: the same events always
 * give the same state. The accumulator is mutated in place so that catching up on k new events costs
 * O(k), whatever the length of the history; callers that hand state out must copy (see view.ts).
 */
import { CorruptSessionError } from './errors.js';
import type { MessageRecord, SessionHeader, StoredEvent } from './events.js';
import type { CompactionCheckpoint, JsonObject, JsonValue, Message } from './model.js';

export interface SnapshotState {
  id: string;
  label: string | null;
  metadata: JsonObject;
  createdAt: string;
  seq: number;
  /** The visible messages at the snapshot, so a revert restores exactly them whatever happened since. */
  messages: Message[];
}

export interface PendingRevert {
  seq: number;
  toMessageId: string | null;
  snapshotId: string | null;
  /** What `unrevert` brings back: the view before the first revert of this uncommitted run. */
  restore: Message[];
}

export interface SessionState {
  header: SessionHeader;
  createdAt: string;
  updatedAt: string;
  headSeq: number;
  /** Every message of the history (fork prefix first), in seq order, whether visible or not. */
  all: Message[];
  /** Index of the messages this log appended. Inherited ones are indexed lazily (see findMessage). */
  ownById: Map<string, Message>;
  prefixById: Map<string, Message> | null;
  /** Seq of the log's first event (a fork's log starts after its fork point). */
  firstSeq: number;
  /** How many messages at the start of `all` were inherited from a fork's parent. */
  prefixLength: number;
  /** What readers see now. */
  visible: Message[];
  revert: PendingRevert | null;
  snapshots: SnapshotState[];
  shareToken: string | null;
  checkpoint: CompactionCheckpoint | null;
  deleted: boolean;
  /**
   * Set while a fork's `all` and `visible` are still its inherited prefix, not yet copied: they are
   * materialised on first access, so creating (or listing) a fork costs nothing per inherited message.
   */
  lazyPrefix: MessagePrefix | null;
}

/**
 * The first `length` messages of `source`, shared rather than copied. Safe because a fold only ever
 * `push`es onto its message arrays (every other change assigns a new array), so a prefix of one never
 * changes once written. Messages are frozen.
 */
export interface MessagePrefix {
  readonly source: readonly Message[];
  readonly length: number;
}

export const NO_PREFIX: MessagePrefix = { source: [], length: 0 };

export function wholePrefix(messages: readonly Message[]): MessagePrefix {
  return { source: messages, length: messages.length };
}

/** How many messages readers see, without materialising a fork's deferred history. */
export function visibleLength(state: SessionState): number {
  return state.lazyPrefix ? state.lazyPrefix.length : state.visible.length;
}

/** Makes `all` and `visible` copy the prefix on first access (read or write), then plain properties again. */
function deferHistory(state: SessionState, prefix: MessagePrefix): void {
  const materialize = (): void => {
    if (state.lazyPrefix === null) return;
    state.lazyPrefix = null;
    for (const key of ['all', 'visible'] as const) {
      Object.defineProperty(state, key, { value: prefix.source.slice(0, prefix.length), writable: true, enumerable: true, configurable: true });
    }
  };
  state.lazyPrefix = prefix;
  for (const key of ['all', 'visible'] as const) {
    Object.defineProperty(state, key, {
      enumerable: true,
      configurable: true,
      get() {
        materialize();
        return state[key];
      },
      set(value: Message[]) {
        materialize();
        state[key] = value;
      },
    });
  }
}

/**
 * Starts a state from the log's first event. `prefix` is the fork's inherited history when the created
 * event does not embed one (resolved by the store from the parent's log, or from a `parent.detached`);
 * its messages must be frozen. Cost: O(1); the prefix is copied only when the fork's history is first used.
 */
export function initialState(created: StoredEvent, prefix: MessagePrefix): SessionState {
  if (created.type !== 'session.created') {
    throw new CorruptSessionError('(unknown)', `a log must start with session.created, found ${created.type} at seq ${created.seq}`, null);
  }
  // A prefix read from a parent's fold is frozen already; one embedded in this log was just parsed.
  if (created.prefix) for (const m of created.prefix) deepFreeze(m);
  const inherited = created.prefix ? wholePrefix(created.prefix) : prefix;
  const state: SessionState = {
    header: { ...created.session, metadata: { ...created.session.metadata } },
    createdAt: created.at,
    updatedAt: created.at,
    headSeq: created.seq,
    all: [],
    prefixLength: inherited.length,
    ownById: new Map(),
    prefixById: null,
    firstSeq: created.seq,
    visible: [],
    revert: null,
    snapshots: [],
    shareToken: null,
    checkpoint: null,
    deleted: false,
    lazyPrefix: null,
  };
  if (inherited.length > 0) deferHistory(state, inherited);
  return state;
}

/** Messages are immutable: frozen once, so reads can hand them out without copying. */
export function messageFromRecord(record: MessageRecord, seq: number, at: string): Message {
  const m: Message = { id: record.id, seq, createdAt: at, role: record.role, content: record.content };
  if (record.toolCalls !== undefined) m.toolCalls = record.toolCalls;
  if (record.toolCallId !== undefined) m.toolCallId = record.toolCallId;
  if (record.name !== undefined) m.name = record.name;
  if (record.metadata !== undefined) m.metadata = record.metadata;
  return deepFreeze(m);
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Applies one event (seq must be headSeq + 1). Events a valid writer could not have produced are ignored. */
export function applyEvent(state: SessionState, event: StoredEvent): void {
  if (event.seq !== state.headSeq + 1) {
    throw new CorruptSessionError(state.header.id, `event seq ${event.seq} does not follow head ${state.headSeq}`, null);
  }
  state.headSeq = event.seq;
  if (event.at > state.updatedAt) state.updatedAt = event.at;

  switch (event.type) {
    case 'session.created':
      break; // only valid as the first event, handled by initialState
    case 'message.added': {
      // A valid writer never reuses an id (the store checks, inherited ones included); a foreign
      // duplicate is ignored rather than shown twice.
      if (state.ownById.has(event.message.id)) break;
      const message = messageFromRecord(event.message, event.seq, event.at);
      state.all.push(message);
      state.ownById.set(message.id, message);
      if (state.revert) state.revert = null; // a new message commits a pending revert
      state.visible.push(message);
      break;
    }
    case 'title.set':
      state.header.title = event.title;
      break;
    case 'metadata.patched':
      state.header.metadata = patchMetadata(state.header.metadata, event.patch);
      break;
    case 'share.enabled':
      state.shareToken = event.token;
      break;
    case 'share.disabled':
      state.shareToken = null;
      break;
    case 'snapshot.created':
      state.snapshots.push({
        id: event.snapshot.id,
        label: event.snapshot.label,
        metadata: event.snapshot.metadata,
        createdAt: event.at,
        seq: event.seq,
        messages: state.visible.slice(),
      });
      break;
    case 'revert.applied': {
      const base = state.revert ? state.revert.restore : state.visible;
      let shown: Message[] | null = null;
      if (event.snapshotId !== null) {
        const snap = state.snapshots.find((s) => s.id === event.snapshotId);
        if (snap) shown = snap.messages.slice();
      } else if (event.toMessageId === null) {
        shown = [];
      } else {
        const at = base.findIndex((m) => m.id === event.toMessageId);
        if (at >= 0) shown = base.slice(0, at + 1);
      }
      if (shown === null) break;
      state.revert = { seq: event.seq, toMessageId: event.toMessageId, snapshotId: event.snapshotId, restore: base };
      state.visible = shown;
      break;
    }
    case 'revert.undone':
      if (state.revert) {
        state.visible = state.revert.restore;
        state.revert = null;
      }
      break;
    case 'session.cleared':
      state.visible = [];
      state.revert = null;
      break;
    case 'compaction.checkpoint':
      state.checkpoint = {
        seq: event.seq,
        createdAt: event.at,
        summary: event.summary,
        throughMessageId: event.throughMessageId,
        metadata: event.metadata,
      };
      break;
    case 'parent.detached':
      // The prefix is already in `all`/`visible` (read from the parent, or from this event on a cold
      // fold); from now on it is owned by this log and the parent link is gone.
      state.header.parentId = null;
      break;
    case 'session.deleted':
      state.deleted = true;
      break;
  }
}

/** Any message of the history by id, visible or not, inherited or own. */
export function findMessage(state: SessionState, id: string): Message | undefined {
  const own = state.ownById.get(id);
  if (own || state.prefixLength === 0) return own;
  if (!state.prefixById) {
    state.prefixById = new Map();
    for (let i = 0; i < state.prefixLength; i++) state.prefixById.set(state.all[i]!.id, state.all[i]!);
  }
  return state.prefixById.get(id);
}

export function foldEvents(events: readonly StoredEvent[], prefix: MessagePrefix): SessionState {
  const [first, ...rest] = events;
  if (!first) throw new CorruptSessionError('(unknown)', 'an empty log has no session', null);
  const state = initialState(first, prefix);
  for (const e of rest) applyEvent(state, e);
  return state;
}

/**
 * The fork prefix a log carries itself, if any: the created event's (an import), else the one copied in
 * when the parent was deleted. Null means the prefix lives in the parent's log.
 */
export function embeddedPrefix(events: readonly StoredEvent[]): Message[] | null {
  const first = events[0];
  if (first?.type === 'session.created' && first.prefix) return first.prefix;
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.type === 'parent.detached') return e.prefix;
  }
  return null;
}

export function patchMetadata(current: JsonObject, patch: { [key: string]: JsonValue }): JsonObject {
  const next: JsonObject = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key];
    // defineProperty: a "__proto__" key stays an ordinary own key instead of swapping the prototype.
    else Object.defineProperty(next, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return next;
}

/** Ids of the messages a revert hid (those of `restore` not shown). */
export function hiddenCount(state: SessionState): number {
  if (!state.revert) return 0;
  const shown = new Set(state.visible.map((m) => m.id));
  return state.revert.restore.filter((m) => !shown.has(m.id)).length;
}
