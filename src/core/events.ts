/**
 * The event log: the only thing threadloom stores. Every change to a session is one of these events,
 * appended with the next per-session `seq`. State is a fold of the events (see fold.ts).
 */
import type { JsonObject, Message, MessageContent, MessageRole, SessionInfo, ToolCall } from './model.js';

/** A message as carried inside its `message.added` event: `seq` and `createdAt` come from the event. */
export interface MessageRecord {
  id: string;
  role: MessageRole;
  content: MessageContent;
  toolCalls?: ToolCall[];
  toolCallId?: string;
  name?: string;
  metadata?: JsonObject;
}

/** What `session.created` records and later events amend: the SessionInfo fields a log itself holds. */
export type SessionHeader = Pick<SessionInfo, 'id' | 'title' | 'parentId' | 'forkedFrom' | 'agentName' | 'userId' | 'metadata'>;

export type EventBody =
  /**
   * First event of every log. `prefix` carries materialised history (an imported fork); without it a
   * fork reads its prefix from the parent's log up to `forkedFrom.seq`.
   */
  | { type: 'session.created'; session: SessionHeader; prefix?: Message[] }
  | { type: 'message.added'; message: MessageRecord }
  | { type: 'title.set'; title: string | null }
  /** Shallow patch: a null value removes the key. */
  | { type: 'metadata.patched'; patch: { [key: string]: import('./model.js').JsonValue } }
  | { type: 'share.enabled'; token: string }
  | { type: 'share.disabled' }
  | { type: 'snapshot.created'; snapshot: { id: string; label: string | null; metadata: JsonObject } }
  /** Soft revert: `toMessageId` is the last message kept (null hides all); or a snapshot's exact content. */
  | { type: 'revert.applied'; toMessageId: string | null; snapshotId: string | null }
  | { type: 'revert.undone' }
  | { type: 'session.cleared' }
  | {
      type: 'compaction.checkpoint';
      summary: string;
      throughMessageId: string;
      metadata: JsonObject;
    }
  /** The parent was deleted: its prefix is copied here so this session never loses history. */
  | { type: 'parent.detached'; prefix: Message[] }
  /** Deletion fence: written first, so a fork racing a delete either lands before it or fails. */
  | { type: 'session.deleted' };

export type EventType = EventBody['type'];

export const EVENT_TYPES: ReadonlySet<EventType> = new Set<EventType>([
  'session.created',
  'message.added',
  'title.set',
  'metadata.patched',
  'share.enabled',
  'share.disabled',
  'snapshot.created',
  'revert.applied',
  'revert.undone',
  'session.cleared',
  'compaction.checkpoint',
  'parent.detached',
  'session.deleted',
]);

/** An event as stored: its body plus the envelope assigned at append time. */
export type StoredEvent = EventBody & {
  /** Per-session, gap-free, assigned atomically by the driver's append. */
  seq: number;
  /** Wall-clock time of the append (ISO 8601). Informational: `seq`, never time, orders events. */
  at: string;
};

/**
 * Structural check of an event read back from storage. Bodies were validated on the way in; this
 * catches foreign or damaged data (a valid envelope around a body the fold could not use) without the
 * cost of a full schema parse of every line, so a bad line is corruption, never a TypeError later.
 */
export function isStoredEvent(value: unknown): value is StoredEvent {
  if (!isObject(value)) return false;
  const e = value;
  if (!Number.isSafeInteger(e.seq) || (e.seq as number) < 1) return false;
  if (typeof e.at !== 'string' || typeof e.type !== 'string') return false;
  switch (e.type as EventType) {
    case 'session.created':
      return isHeader(e.session) && (e.prefix === undefined || isMessageList(e.prefix));
    case 'message.added':
      return isMessageRecord(e.message);
    case 'title.set':
      return e.title === null || typeof e.title === 'string';
    case 'metadata.patched':
      return isObject(e.patch);
    case 'share.enabled':
      return typeof e.token === 'string';
    case 'snapshot.created':
      return isObject(e.snapshot) && typeof e.snapshot.id === 'string' && isNullableString(e.snapshot.label) && isObject(e.snapshot.metadata);
    case 'revert.applied':
      return isNullableString(e.toMessageId) && isNullableString(e.snapshotId);
    case 'compaction.checkpoint':
      return typeof e.summary === 'string' && typeof e.throughMessageId === 'string' && isObject(e.metadata);
    case 'parent.detached':
      return isMessageList(e.prefix);
    case 'share.disabled':
    case 'revert.undone':
    case 'session.cleared':
    case 'session.deleted':
      return true;
    default:
      return false;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNullableString(v: unknown): boolean {
  return v === null || typeof v === 'string';
}

function isHeader(v: unknown): boolean {
  return (
    isObject(v) &&
    typeof v.id === 'string' &&
    isNullableString(v.title) &&
    isNullableString(v.parentId) &&
    isNullableString(v.agentName) &&
    isNullableString(v.userId) &&
    isObject(v.metadata) &&
    (v.forkedFrom === null ||
      (isObject(v.forkedFrom) && isNullableString(v.forkedFrom.messageId) && Number.isSafeInteger(v.forkedFrom.seq)))
  );
}

function isMessageRecord(v: unknown): boolean {
  return isObject(v) && typeof v.id === 'string' && typeof v.role === 'string' && 'content' in v;
}

function isMessageList(v: unknown): boolean {
  return Array.isArray(v) && v.every((m) => isMessageRecord(m) && Number.isSafeInteger((m as { seq?: unknown }).seq));
}
