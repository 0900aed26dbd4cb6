/**
 * The fold: session state as a function of its event log. No I/O and no clock: the same events always
 * give the same state. The accumulator is mutated in place so that catching up on k new events costs
 * O(k), whatever the length of the history; callers that hand state out must copy (see view.ts).
 */
import { CorruptSessionError } from './errors.js';
import type { MessageRecord, SessionHeader, StoredEvent } from './events.js';
import type { CompactionCheckpoint, JsonObject, JsonValue, Message } from './model.js';
import { MessageIndex } from './message-index.js';

export interface SnapshotState {
  id: string;
  label: string | null;
  metadata: JsonObject;
  createdAt: string;
  seq: number;
  /** Seqs of the visible messages at the snapshot, so a revert restores exactly them whatever happened since. */
  messages: number[];
}

export interface PendingRevert {
  seq: number;
  toMessageId: string | null;
  snapshotId: string | null;
  /** What `unrevert` brings back (seqs): the view before the first revert of this uncommitted run. */
  restore: number[];
}

/**
 * The fold keeps no message bodies: message lists are lists of seqs (in seq order), and each log's
 * own messages are indexed by id in a compact MessageIndex. A body is read from the log that holds
 * it (see `originOf`) when a page is served, so memory does not grow with the size of the messages.
 */
export interface SessionState {
  header: SessionHeader;
  createdAt: string;
  updatedAt: string;
  headSeq: number;
  /**
   * What the event at headSeq was (its type, time and, for a message, id): a catch-up reads that event
   * again and finds another there when the log was deleted and recreated under this fold (see isHeadEvent).
   */
  headType: StoredEvent['type'];
  headAt: string;
  headMessageId: string | null;
  /** The messages this log appended, by id and seq. */
  own: MessageIndex;
  /** The inherited history of a fork (empty otherwise). */
  prefix: MessagePrefix;
  /** Seq of the log's first event (a fork's log starts after its fork point). */
  firstSeq: number;
  /** Seqs of what readers see now. */
  visible: number[];
  revert: PendingRevert | null;
  snapshots: SnapshotState[];
  shareToken: string | null;
  checkpoint: CompactionCheckpoint | null;
  deleted: boolean;
  /**
   * Set while a fork's `visible` is still its inherited prefix, not yet copied: it is materialised on
   * first access, so creating (or listing) a fork costs nothing per inherited message.
   */
  lazyPrefix: MessagePrefix | null;
}

/** Where inherited messages are resolved: the parent's fold, or a copy carried in this log. */
export type PrefixSource =
  | { readonly kind: 'fold'; readonly state: SessionState }
  | { readonly kind: 'embedded'; readonly bySeq: ReadonlyMap<number, Message>; readonly byId: ReadonlyMap<string, Message> };

/**
 * The first `length` seqs of `seqs`, shared rather than copied. Safe because a fold only ever `push`es
 * onto its lists (every other change assigns a new array), so a prefix of one never changes once written.
 */
export interface MessagePrefix {
  readonly seqs: readonly number[];
  readonly length: number;
  readonly from: PrefixSource | null;
}

export const NO_PREFIX: MessagePrefix = { seqs: [], length: 0, from: null };

/** A prefix held whole in memory (an import's, or the copy written when a parent was deleted). */
export function embeddedPrefix(messages: readonly Message[]): MessagePrefix {
  const bySeq = new Map<number, Message>();
  const byId = new Map<string, Message>();
  for (const m of messages) {
    deepFreeze(m);
    bySeq.set(m.seq, m);
    byId.set(m.id, m);
  }
  return { seqs: messages.map((m) => m.seq), length: messages.length, from: { kind: 'embedded', bySeq, byId } };
}

/** The parent's visible history up to (and including) position `length - 1`, resolved through its fold. */
export function foldPrefix(parent: SessionState, length: number): MessagePrefix {
  return { seqs: parent.visible, length, from: { kind: 'fold', state: parent } };
}

/** How many messages readers see, without materialising a fork's deferred history. */
export function visibleLength(state: SessionState): number {
  return state.lazyPrefix ? state.lazyPrefix.length : state.visible.length;
}

/** Makes `visible` copy the prefix on first access (read or write), then a plain property again. */
function deferVisible(state: SessionState, prefix: MessagePrefix): void {
  const materialize = (): void => {
    if (state.lazyPrefix === null) return;
    state.lazyPrefix = null;
    Object.defineProperty(state, 'visible', { value: prefix.seqs.slice(0, prefix.length), writable: true, enumerable: true, configurable: true });
  };
  state.lazyPrefix = prefix;
  Object.defineProperty(state, 'visible', {
    enumerable: true,
    configurable: true,
    get() {
      materialize();
      return state.visible;
    },
    set(value: number[]) {
      materialize();
      state.visible = value;
    },
  });
}

/**
 * Starts a state from the log's first event. `prefix` is the fork's inherited history when the created
 * event does not embed one (resolved by the store from the parent's log, or from a `parent.detached`).
 * Cost: O(1); the prefix is copied only when the fork's history is first used. `expectedMessages`
 * sizes the message index (an upper bound such as the log's length; 0 when unknown).
 */
export function initialState(created: StoredEvent, prefix: MessagePrefix, expectedMessages = 0): SessionState {
  if (created.type !== 'session.created') {
    throw new CorruptSessionError('(unknown)', `a log must start with session.created, found ${created.type} at seq ${created.seq}`, null);
  }
  const inherited = created.prefix ? embeddedPrefix(created.prefix) : prefix;
  const state: SessionState = {
    header: { ...created.session, metadata: { ...created.session.metadata } },
    createdAt: created.at,
    updatedAt: created.at,
    headSeq: created.seq,
    headType: created.type,
    headAt: created.at,
    headMessageId: null,
    own: new MessageIndex(expectedMessages),
    prefix: inherited,
    firstSeq: created.seq,
    visible: [],
    revert: null,
    snapshots: [],
    shareToken: null,
    checkpoint: null,
    deleted: false,
    lazyPrefix: null,
  };
  if (inherited.length > 0) deferVisible(state, inherited);
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

/**
 * Whether `event` is the very event this fold applied last. Seqs alone cannot tell a log that grew from
 * a new log with the same id that grew past this fold's head (deleted and recreated by another process):
 * that one has another event at headSeq (another message id, which is random; or another time or type).
 */
export function isHeadEvent(state: SessionState, event: StoredEvent): boolean {
  return (
    event.seq === state.headSeq &&
    event.type === state.headType &&
    event.at === state.headAt &&
    (event.type === 'message.added' ? event.message.id === state.headMessageId : true)
  );
}

/** Applies one event (seq must be headSeq + 1). Events a valid writer could not have produced are ignored. */
export function applyEvent(state: SessionState, event: StoredEvent): void {
  if (event.seq !== state.headSeq + 1) {
    throw new CorruptSessionError(state.header.id, `event seq ${event.seq} does not follow head ${state.headSeq}`, null);
  }
  state.headSeq = event.seq;
  state.headType = event.type;
  state.headAt = event.at;
  state.headMessageId = event.type === 'message.added' ? event.message.id : null;
  if (event.at > state.updatedAt) state.updatedAt = event.at;

  switch (event.type) {
    case 'session.created':
      break; // only valid as the first event, handled by initialState
    case 'message.added': {
      // A valid writer never reuses an id (the store checks, inherited ones included); a foreign
      // duplicate is ignored rather than shown twice.
      if (state.own.positionOf(event.message.id) >= 0) break;
      state.own.push(event.message.id, event.seq);
      if (state.revert) state.revert = null; // a new message commits a pending revert
      state.visible.push(event.seq);
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
      let shown: number[] | null = null;
      if (event.snapshotId !== null) {
        const snap = state.snapshots.find((s) => s.id === event.snapshotId);
        if (snap) shown = snap.messages.slice();
      } else if (event.toMessageId === null) {
        shown = [];
      } else {
        const seq = findSeq(state, event.toMessageId);
        const at = seq === undefined ? -1 : indexOfSeq(base, seq);
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
    case 'parent.detached': {
      // From now on the prefix is owned by this log (the parent's log is about to be removed): resolve
      // it from the copy this event carries. The lists of seqs are the same.
      if (state.prefix.length > 0 && state.prefix.from?.kind !== 'embedded') {
        const copy = embeddedPrefix(event.prefix);
        state.prefix = { seqs: state.prefix.seqs, length: state.prefix.length, from: copy.from };
        if (state.lazyPrefix) state.lazyPrefix = state.prefix;
      }
      state.header.parentId = null;
      break;
    }
    case 'session.deleted':
      state.deleted = true;
      break;
  }
}

/** The whole history (inherited first, then own), visible or not, read in place: `seqAt(i)` for i < `length`. */
export function historySeqs(state: SessionState): SeqSource {
  const { prefix, own } = state;
  return { length: prefix.length + own.length, seqAt: (i) => (i < prefix.length ? prefix.seqs[i]! : own.seqAt(i - prefix.length)) };
}

/** A sorted seq list read by position: a plain array, or the history without copying it. */
export interface SeqSource {
  readonly length: number;
  seqAt(i: number): number;
}

export function arraySource(seqs: readonly number[]): SeqSource {
  return { length: seqs.length, seqAt: (i) => seqs[i]! };
}

/** First position in `source` whose seq is greater than `seq`. */
export function firstAfterIn(source: SeqSource, seq: number): number {
  let lo = 0;
  let hi = source.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (source.seqAt(mid) <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Seq of any message of the history by id, visible or not, inherited or own. */
export function findSeq(state: SessionState, id: string): number | undefined {
  const own = state.own.positionOf(id);
  if (own >= 0) return state.own.seqAt(own);
  const { prefix } = state;
  const from = prefix.from;
  if (prefix.length === 0 || from === null) return undefined;
  const seq = from.kind === 'fold' ? findSeq(from.state, id) : from.byId.get(id)?.seq;
  // The parent's fold goes on growing after the fork point: only its first `length` visible count.
  return seq !== undefined && indexOfSeq(prefix.seqs, seq, prefix.length) >= 0 ? seq : undefined;
}

/** Id of the message with this seq in the history, or undefined. */
export function idOfSeq(state: SessionState, seq: number): string | undefined {
  const origin = originOf(state, seq);
  if (origin === null) return undefined;
  return 'message' in origin ? origin.message.id : origin.state.own.idAt(origin.position);
}

/**
 * Where the body of the history's message `seq` lives: position `position` of `state`'s own index
 * (its log is `state.header.id`), or a message held in memory (an embedded prefix). Null: no such message.
 */
export function originOf(state: SessionState, seq: number): { state: SessionState; position: number } | { message: Message } | null {
  for (let s: SessionState = state; ; ) {
    const position = s.own.positionOfSeq(seq);
    if (position >= 0) return { state: s, position };
    const from = s.prefix.from;
    if (from === null) return null;
    if (from.kind === 'embedded') {
      const message = from.bySeq.get(seq);
      return message ? { message } : null;
    }
    s = from.state;
  }
}

/** Index of `seq` in the first `length` entries of a sorted seq list, or -1. */
export function indexOfSeq(seqs: readonly number[], seq: number, length = seqs.length): number {
  const at = firstAfterSeq(seqs, seq - 1, length);
  return at < length && seqs[at] === seq ? at : -1;
}

/** First index in the first `length` entries of a sorted seq list whose seq is greater than `seq`. */
export function firstAfterSeq(seqs: readonly number[], seq: number, length = seqs.length): number {
  return firstAfterIn({ length, seqAt: (i) => seqs[i]! }, seq);
}

export function foldEvents(events: readonly StoredEvent[], prefix: MessagePrefix): SessionState {
  const [first, ...rest] = events;
  if (!first) throw new CorruptSessionError('(unknown)', 'an empty log has no session', null);
  const state = initialState(first, prefix, rest.length);
  for (const e of rest) applyEvent(state, e);
  return state;
}

/** The fork prefix a created event carries itself (an import), if any. */
export function createdPrefix(created: StoredEvent): Message[] | null {
  return created.type === 'session.created' && created.prefix ? created.prefix : null;
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

/** Number of messages a pending revert hid (those of `restore` not shown). */
export function hiddenCount(state: SessionState): number {
  if (!state.revert) return 0;
  const shown = new Set(state.visible);
  return state.revert.restore.filter((seq) => !shown.has(seq)).length;
}
