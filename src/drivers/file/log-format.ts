/**
 * The on-disk line format of a session log. A batch of N events is N lines; every line but the last
 * carries `"more":true`, so a reader can tell a whole batch from one cut short by a crash.
 */
import { isStoredEvent, type StoredEvent } from '../../core/events.js';

export function encodeBatch(events: readonly StoredEvent[]): Buffer {
  let text = '';
  const last = events.length - 1;
  for (let i = 0; i <= last; i++) {
    const event = events[i]!;
    let json: string;
    if (Object.hasOwn(event, 'more')) {
      // Copy so a stray `more` on the caller's object can never end or extend a group by accident.
      const { more: _stray, ...rest } = event as StoredEvent & { more?: unknown };
      json = JSON.stringify(rest);
    } else json = JSON.stringify(event);
    // An event serializes as an object, so `more` goes in before its closing brace (no copy to add it).
    text += (i < last ? `${json.slice(0, -1)},"more":true}` : json) + '\n';
  }
  return Buffer.from(text, 'utf8');
}

export interface ParsedLine {
  event: StoredEvent;
  /** More lines of the same batch follow. */
  more: boolean;
}

/** Parses bytes [start, end) (without the newline); null if they are not one stored event. */
export function parseLogLine(buf: Buffer, start: number, end: number): ParsedLine | null {
  if (end <= start || buf[start] !== 0x7b /* { */) return null;
  let value: unknown;
  try {
    value = JSON.parse(buf.toString('utf8', start, end));
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const obj = value as Record<string, unknown>;
  let more = false;
  if ('more' in obj) {
    if (obj.more !== true) return null;
    more = true;
    delete obj.more;
  }
  if (!isStoredEvent(obj)) return null;
  return { event: obj, more };
}
