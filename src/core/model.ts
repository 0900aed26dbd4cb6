/** Public shapes of threadloom. Everything a caller receives is one of these plain, JSON-safe objects. */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export type MessageRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool';
export const MESSAGE_ROLES: readonly MessageRole[] = ['system', 'developer', 'user', 'assistant', 'tool'];

/** Message content: plain text, structured content parts (multi-modal), or null (e.g. a pure tool-call turn). */
export type MessageContent = string | JsonObject[] | null;

/** An LLM tool call, in the OpenAI chat shape. */
export interface ToolCall {
  id: string;
  type: string;
  function: { name: string; arguments: string };
}

/** What a caller passes to `addMessage`. */
export interface MessageInput {
  role: MessageRole;
  content: MessageContent;
  /** Caller-chosen idempotency key; generated (UUIDv7) when absent. */
  id?: string;
  toolCalls?: ToolCall[];
  toolCallId?: string;
  name?: string;
  metadata?: JsonObject;
}

/** A stored, immutable message. */
export interface Message {
  id: string;
  /** The seq of the event that appended it; strictly increasing along a session's history. */
  seq: number;
  createdAt: string;
  role: MessageRole;
  content: MessageContent;
  toolCalls?: ToolCall[];
  toolCallId?: string;
  name?: string;
  metadata?: JsonObject;
}

/** The LLM-ready shape returned by `getChatHistory`. */
export interface ChatMessage {
  role: MessageRole;
  content: MessageContent;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  name?: string;
}

export interface ForkPoint {
  /** The last message of the parent included in the fork, or null when the parent had none. */
  messageId: string | null;
  /** The parent's seq the fork reads up to (inclusive). */
  seq: number;
}

export interface SessionInfo {
  id: string;
  title: string | null;
  parentId: string | null;
  forkedFrom: ForkPoint | null;
  agentName: string | null;
  userId: string | null;
  metadata: JsonObject;
  createdAt: string;
  updatedAt: string;
  /** Number of visible messages (reverted and cleared ones excluded). */
  messageCount: number;
  /** Whether a share token is active. The token itself is never part of this shape. */
  shared: boolean;
  /** Seq of the last event in this session's log: pass it as `expectedSeq` for a conditional write. */
  headSeq: number;
}

export interface Snapshot {
  id: string;
  label: string | null;
  metadata: JsonObject;
  createdAt: string;
  /** Seq of the snapshot event: the snapshot captures the session exactly as of this seq. */
  seq: number;
  /** Number of visible messages captured. */
  messageCount: number;
  /** Id of the last captured message, or null when the session was empty. */
  lastMessageId: string | null;
}

/** A pending (uncommitted) revert: hidden messages come back with `unrevert()` until the next message. */
export interface RevertState {
  /** Seq of the revert event. */
  seq: number;
  /** The message kept as the last visible one (null: all hidden). */
  toMessageId: string | null;
  /** Set when the revert targeted a snapshot. */
  snapshotId: string | null;
  /** Number of messages hidden by this revert. */
  hiddenCount: number;
}

export interface CompactionCheckpoint {
  seq: number;
  createdAt: string;
  summary: string;
  /** Messages up to and including this one are summarised by `summary` in `getChatHistory`. */
  throughMessageId: string;
  metadata: JsonObject;
}

export interface Session extends SessionInfo {
  messages: Message[];
  snapshots: Snapshot[];
  revert: RevertState | null;
  checkpoint: CompactionCheckpoint | null;
}

/** Options every write accepts: `expectedSeq` makes it conditional on the log's head. */
export interface WriteOptions {
  expectedSeq?: number;
}

export interface CreateSessionInput {
  id?: string;
  title?: string | null;
  parentId?: string | null;
  agentName?: string | null;
  userId?: string | null;
  metadata?: JsonObject;
}

export interface ListSessionsOptions {
  limit?: number;
  cursor?: string | null;
  parentId?: string;
  agentName?: string;
  userId?: string;
  rootsOnly?: boolean;
}

export interface SessionPage {
  sessions: SessionInfo[];
  /** Opaque; pass back as `cursor` for the next page. Null on the last page. */
  nextCursor: string | null;
}

export interface GetMessagesOptions {
  /** Return only the latest N (still in chronological order). */
  limit?: number;
  afterSeq?: number;
  beforeSeq?: number;
  /** Include reverted and cleared messages (the whole history, in log order). */
  includeReverted?: boolean;
}

export interface ForkOptions {
  atMessageId?: string;
  atIndex?: number;
  title?: string;
  id?: string;
}

export interface SessionTreeNode {
  id: string;
  title: string | null;
  messageCount: number;
  children: SessionTreeNode[];
}

export interface SnapshotInput {
  label?: string | null;
  metadata?: JsonObject;
}

export interface CheckpointInput {
  summary: string;
  throughMessageId?: string;
  throughIndex?: number;
  metadata?: JsonObject;
}
