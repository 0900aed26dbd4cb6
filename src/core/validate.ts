/**
 * Input validation. Everything a caller hands us is checked and deep-copied into plain JSON before it
 * can reach an event: bad input fails with an InvalidInputError naming the field, and nothing is written.
 */
import { z } from 'zod';
import { InvalidInputError } from './errors.js';
import { isValidSessionId } from './ids.js';
import { MESSAGE_ROLES, type JsonObject, type JsonValue, type MessageInput } from './model.js';
import type { MessageRecord } from './events.js';

const MAX_DEPTH = 100;
/** One serialized event must stay well inside what a single write and a single line reader handle. */
export const MAX_EVENT_BYTES = 64 * 1024 * 1024;

/**
 * Deep-copies `value` as JSON, rejecting what JSON cannot carry faithfully: undefined, functions,
 * symbols, BigInt, non-finite numbers, class instances (Date, Map…), cycles and absurd nesting.
 */
export function toJson(value: unknown, field: string): JsonValue {
  const ancestors = new Set<object>();
  const walk = (v: unknown, path: string, depth: number): JsonValue => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new InvalidInputError(path, `must be a finite number, got ${v}`);
      return v;
    }
    if (typeof v !== 'object') throw new InvalidInputError(path, `${typeof v} is not JSON`);
    if (depth > MAX_DEPTH) throw new InvalidInputError(path, `nested deeper than ${MAX_DEPTH} levels`);
    if (ancestors.has(v)) throw new InvalidInputError(path, 'contains a cycle');
    ancestors.add(v);
    try {
      if (Array.isArray(v)) {
        const out: JsonValue[] = [];
        for (let i = 0; i < v.length; i++) {
          if (!(i in v)) throw new InvalidInputError(`${path}[${i}]`, 'is a hole in a sparse array');
          out.push(walk(v[i], `${path}[${i}]`, depth + 1));
        }
        return out;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw new InvalidInputError(path, `must be a plain object, got ${proto?.constructor?.name ?? 'an exotic object'}`);
      }
      if (Object.getOwnPropertySymbols(v).length > 0) throw new InvalidInputError(path, 'has symbol keys');
      const out: JsonObject = {};
      for (const key of Object.keys(v)) {
        const child = (v as Record<string, unknown>)[key];
        if (child === undefined) throw new InvalidInputError(`${path}.${key}`, 'is undefined (omit the key or use null)');
        const copy = walk(child, `${path}.${key}`, depth + 1);
        // Assignment to "__proto__" would set the prototype instead of copying the key.
        if (key === '__proto__') Object.defineProperty(out, key, { value: copy, enumerable: true, writable: true, configurable: true });
        else out[key] = copy;
      }
      return out;
    } finally {
      ancestors.delete(v);
    }
  };
  return walk(value, field, 0);
}

export function toJsonObject(value: unknown, field: string): JsonObject {
  const json = toJson(value, field);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new InvalidInputError(field, 'must be an object');
  }
  return json;
}

const idString = z.string().refine(isValidSessionId, 'must be 1-128 characters of A-Z a-z 0-9 . _ : -');

const toolCallSchema = z.looseObject({
  id: z.string().min(1),
  type: z.string().min(1),
  function: z.looseObject({ name: z.string().min(1), arguments: z.string() }),
});

const messageSchema = z.strictObject({
  role: z.enum(MESSAGE_ROLES as [string, ...string[]]),
  content: z.union([z.string(), z.null(), z.array(z.record(z.string(), z.unknown()))]),
  id: idString.optional(),
  toolCalls: z.array(toolCallSchema).optional(),
  toolCallId: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/** Turns a zod failure into our typed error, naming the first offending field. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, field: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.reduce<string>(
    (acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : `${acc}.${String(part)}`),
    field,
  );
  throw new InvalidInputError(path, issue.message);
}

/** Validates a caller's message. The id is left undefined when the caller did not choose one. */
export function parseMessageInput(input: unknown, field = 'message'): Omit<MessageRecord, 'id'> & { id?: string } {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new InvalidInputError(field, 'must be an object');
  }
  // Drop top-level optional keys set to undefined (an idiomatic "not given"), then copy as JSON.
  const given = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const json = toJson(given, field);
  parseWith(messageSchema, json, field);
  // Build from our own JSON copy, not zod's output: zod re-creates records by assignment, which would
  // turn a "__proto__" key into a prototype.
  const m = json as unknown as MessageInput;
  const record: Omit<MessageRecord, 'id'> & { id?: string } = { role: m.role, content: m.content };
  if (m.id !== undefined) record.id = m.id;
  if (m.toolCalls !== undefined) record.toolCalls = m.toolCalls;
  if (m.toolCallId !== undefined) record.toolCallId = m.toolCallId;
  if (m.name !== undefined) record.name = m.name;
  if (m.metadata !== undefined) record.metadata = m.metadata;
  return record;
}

export function optionalString(value: unknown, field: string, maxLength = 10_000): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new InvalidInputError(field, `must be a string or null, got ${typeof value}`);
  if (value.length > maxLength) throw new InvalidInputError(field, `is longer than ${maxLength} characters`);
  return value;
}

export function optionalSeq(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new InvalidInputError(field, `must be a non-negative integer, got ${String(value)}`);
  }
  return value as number;
}

export function optionalLimit(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new InvalidInputError(field, `must be a non-negative integer, got ${String(value)}`);
  }
  return value as number;
}

export function assertOptionsObject(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidInputError(field, 'must be an object');
  }
  return value as Record<string, unknown>;
}
