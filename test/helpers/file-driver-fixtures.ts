/** Hand-built events and summaries for driver-level tests (the core's fold is not involved). */
import type { StoredEvent } from '../../src/core/events.js';
import type { AppendPlan, LogTransaction, SessionSummary } from '../../src/drivers/driver.js';

const AT = '2025-01-01T00:00:00.000Z';

export function createdEvent(id: string, seq = 1, parentId: string | null = null): StoredEvent {
  return {
    seq,
    at: AT,
    type: 'session.created',
    session: { id, title: null, parentId, forkedFrom: null, agentName: null, userId: null, metadata: {} },
  };
}

export function messageEvent(seq: number, messageId: string, content = `message ${messageId}`): StoredEvent {
  return { seq, at: AT, type: 'message.added', message: { id: messageId, role: 'user', content } };
}

export function summaryFor(id: string, headSeq: number, extra: Partial<SessionSummary> = {}): SessionSummary {
  return {
    id,
    title: null,
    parentId: null,
    forkedFrom: null,
    agentName: null,
    userId: null,
    metadata: {},
    createdAt: AT,
    updatedAt: AT,
    messageCount: Math.max(0, headSeq - 1),
    shareTokenHash: null,
    headSeq,
    deleted: false,
    ...extra,
  };
}

/** A create plan: session.created plus `messages` message events, in one batch. */
export function createPlan(id: string, messages = 0, extra: Partial<SessionSummary> = {}) {
  return async (): Promise<AppendPlan> => {
    const events = [createdEvent(id)];
    for (let i = 0; i < messages; i++) events.push(messageEvent(i + 2, `${id}-m${i + 2}`));
    return { events, summary: summaryFor(id, events.length, extra) };
  };
}

/** An update plan appending messages with the ids given, at tx.headSeq + 1 onwards. */
export function messagesPlan(id: string, messageIds: string[], extra: Partial<SessionSummary> = {}) {
  return async (tx: LogTransaction): Promise<AppendPlan> => {
    const events = messageIds.map((m, i) => messageEvent(tx.headSeq + 1 + i, m));
    return { events, summary: summaryFor(id, tx.headSeq + messageIds.length, extra) };
  };
}
