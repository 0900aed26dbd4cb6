/**
 * Export/import. The export document is the session's own event log (with the share token redacted)
 * plus the inherited fork prefix, so an import replays exactly the same history: messages with their
 * ids, seqs and times, snapshots, reverts, title and metadata. Reference-store (PraisonAI) JSON files
 * are converted into the same events.
 */
import { z } from 'zod';
import { InvalidInputError } from './errors.js';
import type { EventBody, SessionHeader, StoredEvent } from './events.js';
import { NO_PREFIX, foldEvents, type SessionState } from './fold.js';
import { isValidSessionId } from './ids.js';
import type { JsonObject, Message, SessionInfo } from './model.js';
import { MESSAGE_ROLES } from './model.js';
import { parseWith, toJson, toJsonObject } from './validate.js';
import { sessionInfo } from './view.js';

export const EXPORT_FORMAT = 'threadloom.session';
export const EXPORT_VERSION = 1;

/** The export document (version 1). Documented in ARCHITECTURE.md; stable across releases. */
export interface SessionExport {
  format: typeof EXPORT_FORMAT;
  version: typeof EXPORT_VERSION;
  exportedAt: string;
  /** A summary for humans and tools; import derives everything from `prefix` and `events`. */
  session: Omit<SessionInfo, 'shared'>;
  /** Messages inherited from a fork's parent (empty for a root session). */
  prefix: Message[];
  /** The session's own log, first event `session.created`; share tokens redacted. */
  events: StoredEvent[];
}

/** `prefix`: the bodies of the messages the session inherited (`state.prefix`), read by the store. */
export function exportDocument(state: SessionState, events: StoredEvent[], prefix: Message[]): SessionExport {
  const { shared: _shared, ...info } = sessionInfo(state);
  return {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    exportedAt: new Date().toISOString(),
    session: info,
    prefix,
    events: events.map(redact),
  };
}

/** Secrets and embedded copies never leave in an export; seqs are kept by replacing, not dropping. */
function redact(e: StoredEvent): StoredEvent {
  if (e.type === 'share.enabled') return { type: 'share.disabled', seq: e.seq, at: e.at };
  if (e.type === 'parent.detached') return { ...e, prefix: [] };
  if (e.type === 'session.created' && e.prefix) {
    const { prefix: _prefix, ...rest } = e;
    return rest;
  }
  return e;
}

export interface ImportPlan {
  header: SessionHeader;
  created: StoredEvent & { type: 'session.created' };
  rest: StoredEvent[];
}

// ------------------------------------------------------------------ schemas (imports are untrusted)

const id = z.string().refine(isValidSessionId, 'must be 1-128 characters of A-Z a-z 0-9 . _ : -');
const json = z.record(z.string(), z.unknown());
const nullableString = z.string().nullable();
const toolCall = z.looseObject({ id: z.string(), type: z.string(), function: z.looseObject({ name: z.string(), arguments: z.string() }) });
const record = z.strictObject({
  id,
  role: z.enum(MESSAGE_ROLES as [string, ...string[]]),
  content: z.union([z.string(), z.null(), z.array(json)]),
  toolCalls: z.array(toolCall).optional(),
  toolCallId: z.string().optional(),
  name: z.string().optional(),
  metadata: json.optional(),
});
const message = record.extend({ seq: z.number().int().min(1), createdAt: z.string() });
const envelope = { seq: z.number().int().min(1), at: z.string() };
const forkPoint = z.strictObject({ messageId: id.nullable(), seq: z.number().int().min(0) }).nullable();
const header = z.strictObject({
  id,
  title: nullableString,
  parentId: id.nullable(),
  forkedFrom: forkPoint,
  agentName: nullableString,
  userId: nullableString,
  metadata: json,
});
const event = z.discriminatedUnion('type', [
  z.strictObject({ ...envelope, type: z.literal('session.created'), session: header, prefix: z.array(message).optional() }),
  z.strictObject({ ...envelope, type: z.literal('message.added'), message: record }),
  z.strictObject({ ...envelope, type: z.literal('title.set'), title: nullableString }),
  z.strictObject({ ...envelope, type: z.literal('metadata.patched'), patch: json }),
  z.strictObject({ ...envelope, type: z.literal('share.enabled'), token: z.string() }),
  z.strictObject({ ...envelope, type: z.literal('share.disabled') }),
  z.strictObject({
    ...envelope,
    type: z.literal('snapshot.created'),
    snapshot: z.strictObject({ id, label: nullableString, metadata: json }),
  }),
  z.strictObject({ ...envelope, type: z.literal('revert.applied'), toMessageId: id.nullable(), snapshotId: id.nullable() }),
  z.strictObject({ ...envelope, type: z.literal('revert.undone') }),
  z.strictObject({ ...envelope, type: z.literal('session.cleared') }),
  z.strictObject({ ...envelope, type: z.literal('compaction.checkpoint'), summary: z.string(), throughMessageId: id, metadata: json }),
  z.strictObject({ ...envelope, type: z.literal('parent.detached'), prefix: z.array(message) }),
  z.strictObject({ ...envelope, type: z.literal('session.deleted') }),
]);
const exportDoc = z.looseObject({
  format: z.literal(EXPORT_FORMAT),
  version: z.literal(EXPORT_VERSION),
  prefix: z.array(message),
  events: z.array(event).min(1),
});

/**
 * Validates a document and turns it into the events of a new log with id `newId` (default: the
 * document's own id). Throws InvalidInputError naming the field for anything malformed.
 */
export function importPlan(doc: unknown, newId: string | undefined, makeId: () => string): ImportPlan {
  const safe = toJson(doc, 'doc');
  if (safe === null || typeof safe !== 'object' || Array.isArray(safe)) throw new InvalidInputError('doc', 'must be an object');
  if ('format' in safe) return fromExport(safe, newId);
  if ('session_id' in safe || 'messages' in safe) return fromReference(safe, newId, makeId);
  throw new InvalidInputError('doc', `is neither a ${EXPORT_FORMAT} export nor a reference-store session file`);
}

function fromExport(safe: JsonObject, newId: string | undefined): ImportPlan {
  if (safe.format === EXPORT_FORMAT && safe.version !== EXPORT_VERSION) {
    throw new InvalidInputError('doc.version', `version ${JSON.stringify(safe.version)} is not supported (this release reads ${EXPORT_VERSION})`);
  }
  // Validate with zod, but keep our own JSON copy: zod rebuilds records by assignment, which would turn
  // a "__proto__" key in message metadata into a prototype instead of data.
  parseWith(exportDoc, safe, 'doc');
  const doc = safe as unknown as { prefix: Message[]; events: StoredEvent[] };
  const [first, ...rest] = doc.events;
  if (!first || first.type !== 'session.created') throw new InvalidInputError('doc.events[0]', 'must be a session.created event');
  for (const [i, e] of doc.events.entries()) {
    if (e.type === 'session.created' && i > 0) throw new InvalidInputError(`doc.events[${i}]`, 'session.created may only be the first event');
    if (i > 0 && e.seq !== doc.events[i - 1]!.seq + 1) throw new InvalidInputError(`doc.events[${i}].seq`, 'seqs must be contiguous');
    if (e.type === 'session.deleted') throw new InvalidInputError(`doc.events[${i}]`, 'a deleted session cannot be imported');
  }
  const sessionId = newId ?? first.session.id;
  const head: SessionHeader = { ...first.session, id: sessionId };
  const created = { ...first, session: head, ...(doc.prefix.length > 0 || first.session.forkedFrom ? { prefix: doc.prefix } : {}) };
  // Share state is never imported; a token in a foreign document is dropped like any secret.
  const events = rest.map((e) => (e.type === 'share.enabled' ? ({ type: 'share.disabled', seq: e.seq, at: e.at } as StoredEvent) : e));
  checkFolds([created, ...events]);
  return { header: head, created, rest: events };
}

const referenceMessage = z.looseObject({
  role: z.enum(MESSAGE_ROLES as [string, ...string[]]),
  content: z.union([z.string(), z.null(), z.array(json)]).optional(),
  timestamp: z.number().optional(),
  metadata: json.nullable().optional(),
  tool_calls: z.array(toolCall).nullable().optional(),
  tool_call_id: z.string().nullable().optional(),
  name: z.string().nullable().optional(),
});
const referenceDoc = z.looseObject({
  session_id: z.string().optional(),
  title: nullableString.optional(),
  agent_name: nullableString.optional(),
  user_id: nullableString.optional(),
  metadata: json.nullable().optional(),
  created_at: z.union([z.string(), z.number()]).nullable().optional(),
  updated_at: z.union([z.string(), z.number()]).nullable().optional(),
  messages: z.array(referenceMessage),
  archived_messages: z.array(referenceMessage).nullable().optional(),
  snapshots: z
    .array(z.looseObject({ id: z.string().optional(), message_index: z.number().int(), label: nullableString.optional(), metadata: json.nullable().optional() }))
    .nullable()
    .optional(),
});

type ReferenceMessage = z.infer<typeof referenceMessage>;

/**
 * A PraisonAI session file becomes: created, its archived (compacted-away) messages, a clear that hides
 * them (kept, visible with includeReverted), its window of messages with snapshots placed after the
 * message they pointed at. Messages get fresh ids; their times are kept.
 */
function fromReference(safe: JsonObject, newId: string | undefined, makeId: () => string): ImportPlan {
  parseWith(referenceDoc, safe, 'doc');
  const doc = safe as unknown as z.infer<typeof referenceDoc>;
  const sessionId = newId ?? doc.session_id;
  if (sessionId === undefined) throw new InvalidInputError('doc.session_id', 'is missing; pass options.id');
  if (!isValidSessionId(sessionId)) {
    throw new InvalidInputError('doc.session_id', `${JSON.stringify(sessionId)} is not a valid threadloom id; pass options.id to import it under another id`);
  }
  const createdAt = toIso(doc.created_at) ?? toIso(doc.messages[0]?.timestamp) ?? new Date().toISOString();
  const head: SessionHeader = {
    id: sessionId,
    title: doc.title ?? null,
    parentId: null,
    forkedFrom: null,
    agentName: doc.agent_name ?? null,
    userId: doc.user_id ?? null,
    metadata: toJsonObject(doc.metadata ?? {}, 'doc.metadata'),
  };
  const bodies: Array<{ body: EventBody; at: string }> = [];
  let lastAt = createdAt;
  const push = (body: EventBody, at?: string) => {
    lastAt = at ?? lastAt;
    bodies.push({ body, at: lastAt });
  };
  const addMessages = (list: ReferenceMessage[], field: string) =>
    list.forEach((m, i) => {
      const rec: EventBody & { type: 'message.added' } = {
        type: 'message.added',
        message: { id: makeId(), role: m.role as Message['role'], content: (m.content ?? null) as Message['content'] },
      };
      if (m.tool_calls && m.tool_calls.length > 0) rec.message.toolCalls = m.tool_calls as Message['toolCalls'];
      if (m.tool_call_id) rec.message.toolCallId = m.tool_call_id;
      if (m.name) rec.message.name = m.name;
      if (m.metadata && Object.keys(m.metadata).length > 0) rec.message.metadata = toJsonObject(m.metadata, `${field}[${i}].metadata`);
      push(rec, toIso(m.timestamp) ?? undefined);
    });
  const archived = doc.archived_messages ?? [];
  if (archived.length > 0) {
    addMessages(archived, 'doc.archived_messages');
    push({ type: 'session.cleared' });
  }
  const snapshotsAfter = new Map<number, Array<NonNullable<typeof doc.snapshots>[number]>>();
  for (const [i, s] of (doc.snapshots ?? []).entries()) {
    if (s.message_index < -1 || s.message_index >= doc.messages.length) {
      throw new InvalidInputError(`doc.snapshots[${i}].message_index`, `is out of range for ${doc.messages.length} messages`);
    }
    const list = snapshotsAfter.get(s.message_index) ?? [];
    list.push(s);
    snapshotsAfter.set(s.message_index, list);
  }
  const addSnapshots = (index: number) =>
    (snapshotsAfter.get(index) ?? []).forEach((s) =>
      push({
        type: 'snapshot.created',
        snapshot: {
          id: s.id && isValidSessionId(s.id) ? s.id : makeId(),
          label: s.label ?? null,
          metadata: toJsonObject(s.metadata ?? {}, 'doc.snapshots.metadata'),
        },
      }),
    );
  addSnapshots(-1);
  doc.messages.forEach((m, i) => {
    addMessages([m], `doc.messages[${i}]`);
    addSnapshots(i);
  });
  const created = { type: 'session.created', session: head, seq: 1, at: createdAt } as StoredEvent & { type: 'session.created' };
  const rest = bodies.map(({ body, at }, i) => ({ ...body, seq: i + 2, at }) as StoredEvent);
  checkFolds([created, ...rest]);
  return { header: head, created, rest };
}

function toIso(value: string | number | null | undefined): string | null {
  if (value === undefined || value === null) return null;
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

function checkFolds(events: StoredEvent[]): void {
  try {
    foldEvents(events, NO_PREFIX);
  } catch (err) {
    throw new InvalidInputError('doc.events', (err as Error).message);
  }
}
