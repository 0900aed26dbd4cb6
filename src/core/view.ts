/**
 * Views: the public shapes derived from a folded state. Copies are made here, at the API boundary,
 * so callers can never reach into the cached fold (messages themselves are frozen and shared).
 */
import type { SessionSummary } from '../drivers/driver.js';
import type { StoredEvent } from './events.js';
import type { SessionState, SnapshotState } from './fold.js';
import { findSeq, hiddenCount, idOfSeq, indexOfSeq, visibleLength } from './fold.js';
import { hashShareToken } from './ids.js';
import type { ChatMessage, Message, Session, SessionInfo, Snapshot } from './model.js';

export function sessionInfo(state: SessionState): SessionInfo {
  const h = state.header;
  return {
    id: h.id,
    title: h.title,
    parentId: h.parentId,
    forkedFrom: h.forkedFrom ? { ...h.forkedFrom } : null,
    agentName: h.agentName,
    userId: h.userId,
    metadata: structuredClone(h.metadata),
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
    messageCount: visibleLength(state),
    shared: state.shareToken !== null,
    headSeq: state.headSeq,
  };
}

/**
 * The index entry, computed on every write: no copies (the driver serialises it at once, and the
 * header's metadata object is replaced, never mutated, by the fold).
 */
export function sessionSummary(state: SessionState): SessionSummary {
  const h = state.header;
  return {
    id: h.id,
    title: h.title,
    parentId: h.parentId,
    forkedFrom: h.forkedFrom,
    agentName: h.agentName,
    userId: h.userId,
    metadata: h.metadata,
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
    messageCount: visibleLength(state),
    shareTokenHash: state.shareToken === null ? null : hashShareToken(state.shareToken),
    headSeq: state.headSeq,
    deleted: state.deleted,
  };
}

/**
 * The summary `state` would have after `events`, computed without changing it (for a speculative write,
 * which may be discarded). Null unless every event adds a new message: the append hot path.
 */
export function previewSummary(state: SessionState, events: readonly StoredEvent[]): SessionSummary | null {
  if (events.length === 0) return null;
  let updatedAt = state.updatedAt;
  for (const e of events) {
    if (e.type !== 'message.added' || state.own.positionOf(e.message.id) >= 0) return null;
    if (e.at > updatedAt) updatedAt = e.at;
  }
  return { ...sessionSummary(state), updatedAt, messageCount: visibleLength(state) + events.length, headSeq: events[events.length - 1]!.seq };
}

export function infoFromSummary(summary: SessionSummary): SessionInfo {
  const { shareTokenHash, deleted: _deleted, ...rest } = summary;
  return { ...rest, shared: shareTokenHash !== null };
}

export function snapshotView(state: SessionState, s: SnapshotState): Snapshot {
  const last = s.messages[s.messages.length - 1];
  return {
    id: s.id,
    label: s.label,
    metadata: structuredClone(s.metadata),
    createdAt: s.createdAt,
    seq: s.seq,
    messageCount: s.messages.length,
    lastMessageId: last === undefined ? null : (idOfSeq(state, last) ?? null),
  };
}

/** The whole session; `messages` are the bodies of `state.visible`, read by the store. */
export function sessionView(state: SessionState, messages: Message[]): Session {
  return {
    ...sessionInfo(state),
    messages,
    snapshots: state.snapshots.map((s) => snapshotView(state, s)),
    revert: state.revert
      ? {
          seq: state.revert.seq,
          toMessageId: state.revert.toMessageId,
          snapshotId: state.revert.snapshotId,
          hiddenCount: hiddenCount(state),
        }
      : null,
    checkpoint: state.checkpoint ? structuredClone(state.checkpoint) : null,
  };
}

export function toChatMessage(m: Message): ChatMessage {
  const out: ChatMessage = { role: m.role, content: m.content };
  if (m.toolCalls !== undefined) out.tool_calls = m.toolCalls;
  if (m.toolCallId !== undefined) out.tool_call_id = m.toolCallId;
  if (m.name !== undefined) out.name = m.name;
  return out;
}

/** Which messages the LLM view shows: seqs to read, the checkpoint summary, and whether the window cut the history. */
export interface ChatWindow {
  seqs: number[];
  summary: string | null;
  cut: boolean;
}

/**
 * The LLM view: a compaction checkpoint (if its message is still visible) stands in for everything up
 * to it; the window keeps the last `maxMessages`.
 */
export function chatWindow(state: SessionState, maxMessages: number | undefined): ChatWindow {
  let seqs = state.visible;
  let summary: string | null = null;
  const cp = state.checkpoint;
  if (cp) {
    const seq = findSeq(state, cp.throughMessageId);
    const at = seq === undefined ? -1 : indexOfSeq(seqs, seq);
    if (at >= 0) {
      seqs = seqs.slice(at + 1);
      summary = cp.summary;
    }
  }
  const cut = maxMessages !== undefined && seqs.length > maxMessages;
  return { seqs: cut ? seqs.slice(seqs.length - maxMessages!) : seqs.slice(), summary, cut };
}

/** The window's messages in the LLM shape; a cut window never opens on a tool result whose call it cut off. */
export function chatHistory(window: ChatWindow, messages: readonly Message[]): ChatMessage[] {
  let start = 0;
  if (window.cut) while (start < messages.length && messages[start]!.role === 'tool') start++;
  const out = messages.slice(start).map(toChatMessage);
  return window.summary !== null ? [{ role: 'system', content: window.summary }, ...out] : out;
}
