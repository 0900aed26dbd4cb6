/**
 * The event log: the only thing threadloom stores. Every change to a session is one of these events,
 * appended with the next per-session `seq`. State is a fold of the events (see fold.ts).
 */
import type { ForkPoint, JsonObject, Message, MessageContent, MessageRole, ToolCall } from './model.js';

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

export interface SessionHeader {
  id: string;
  title: string | null;
  parentId: string | null;
  forkedFrom: ForkPoint | null;
  agentName: string | null;
  userId: string | null;
  metadata: JsonObject;
}

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
 * Cheap structural check of an event read back from storage. Bodies were validated on the way in; this
 * catches foreign or damaged data without paying for a full schema parse of every line.
 */
export function isStoredEvent(value: unknown): value is StoredEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const e = value as Record<string, unknown>;
  if (!Number.isSafeInteger(e.seq) || (e.seq as number) < 1) return false;
  if (typeof e.at !== 'string' || typeof e.type !== 'string') return false;
  if (!EVENT_TYPES.has(e.type as EventType)) return false;
  switch (e.type) {
    case 'session.created':
      return typeof e.session === 'object' && e.session !== null && typeof (e.session as { id?: unknown }).id === 'string';
    case 'message.added':
      return typeof e.message === 'object' && e.message !== null && typeof (e.message as { id?: unknown }).id === 'string';
    case 'parent.detached':
      return Array.isArray(e.prefix);
    default:
      return true;
  }
}
