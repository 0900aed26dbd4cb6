/**
 * Message bodies, read on demand. The fold keeps only seqs and ids (see fold.ts), so serving a page
 * reads that page's events from the log that holds them (a fork's inherited messages from its
 * ancestors' logs) and a bounded cache keeps the bodies most reads ask for: the newest messages of
 * each session, which the store has in hand anyway when it writes or catches up.
 */
import type { StoredEvent } from './events.js';
import { messageFromRecord, originOf, type SessionState } from './fold.js';
import type { Message } from './model.js';

/** Events of one log with `afterSeq < seq <= untilSeq`; null when the log is gone. */
export type RangeReader = (logId: string, afterSeq: number, untilSeq: number) => Promise<StoredEvent[] | null>;

/** Reads of the log being written go through its transaction (under its lock), not around it. */
export interface LockedLog {
  logId: string;
  read: (afterSeq: number, untilSeq: number) => Promise<StoredEvent[]>;
}

/** A message a fold indexes is not (or no longer) in its log: the log was replaced; fold it again. */
export class StaleFoldError extends Error {
  constructor(readonly logId: string, reason: string) {
    super(`the log of ${JSON.stringify(logId)} changed under its cached fold: ${reason}`);
    this.name = 'StaleFoldError';
  }
}

/** Wanted seqs closer than this are read in one range (the events between are read and dropped). */
const MERGE_GAP = 32;
/** A range spans at most this many seqs, so even a whole-session read holds one range's events at a time. */
const MAX_RANGE = 1024;

export class MessageBodies {
  /** Least recently used first. Keyed by fold and seq: a replaced log gets a new fold, so never a stale body. */
  private readonly cache = new Map<string, Message>();
  private readonly foldIds = new WeakMap<SessionState, number>();
  private nextFoldId = 1;

  constructor(
    private readonly read: RangeReader,
    private readonly capacity: number,
  ) {}

  /** Keeps the body of a message `state`'s own log holds (one just written or read in a catch-up). */
  keep(state: SessionState, message: Message): void {
    if (this.capacity === 0) return;
    const key = this.key(state, message.seq);
    this.cache.delete(key);
    this.cache.set(key, message);
    while (this.cache.size > this.capacity) this.cache.delete(this.cache.keys().next().value!);
  }

  /** Keeps the bodies of the message events among `events`, folded into `state`. */
  keepEvents(state: SessionState, events: readonly StoredEvent[]): void {
    for (const e of events) if (e.type === 'message.added') this.keep(state, messageFromRecord(e.message, e.seq, e.at));
  }

  /**
   * The bodies of the history messages `seqs` of `state` (in seq order), in the same order. Cached
   * ones cost nothing; the rest are read in few ranges. `retain` keeps what was read (for pages at the
   * head of a session, which are read again; a walk through old history would only evict them).
   */
  async get(state: SessionState, seqs: readonly number[], retain: boolean, locked?: LockedLog): Promise<Message[]> {
    const out = new Array<Message>(seqs.length);
    /** Misses, per fold that owns them: positions in `out`, and seqs. */
    const misses = new Map<SessionState, { at: number[]; seqs: number[] }>();
    for (let i = 0; i < seqs.length; i++) {
      const seq = seqs[i]!;
      const origin = originOf(state, seq);
      if (origin === null) throw new StaleFoldError(state.header.id, `no message with seq ${seq}`);
      if ('message' in origin) {
        out[i] = origin.message;
        continue;
      }
      const key = this.key(origin.state, seq);
      const hit = this.cache.get(key);
      if (hit) {
        this.cache.delete(key);
        this.cache.set(key, hit);
        out[i] = hit;
        continue;
      }
      let group = misses.get(origin.state);
      if (!group) misses.set(origin.state, (group = { at: [], seqs: [] }));
      group.at.push(i);
      group.seqs.push(seq);
    }
    for (const [owner, group] of misses) {
      const logId = owner.header.id;
      const reader = locked && locked.logId === logId ? locked.read : (after: number, until: number) => this.read(logId, after, until);
      let k = 0;
      for (const [from, to] of ranges(group.seqs)) {
        const events = await reader(from - 1, to);
        if (events === null) throw new StaleFoldError(logId, 'the log is gone');
        const bySeq = new Map<number, StoredEvent>();
        for (const e of events) bySeq.set(e.seq, e);
        for (; k < group.seqs.length && group.seqs[k]! <= to; k++) {
          const seq = group.seqs[k]!;
          const e = bySeq.get(seq);
          const position = owner.own.positionOfSeq(seq);
          if (!e || e.type !== 'message.added' || e.message.id !== owner.own.idAt(position)) {
            throw new StaleFoldError(logId, `seq ${seq} is not the message the fold indexed`);
          }
          const message = messageFromRecord(e.message, e.seq, e.at);
          out[group.at[k]!] = message;
          if (retain) this.keep(owner, message);
        }
      }
    }
    return out;
  }

  clear(): void {
    this.cache.clear();
  }

  private key(state: SessionState, seq: number): string {
    let id = this.foldIds.get(state);
    if (id === undefined) this.foldIds.set(state, (id = this.nextFoldId++));
    return `${id}:${seq}`;
  }
}

/** Sorted seqs as inclusive [first, last] ranges, merging neighbours closer than MERGE_GAP. */
function ranges(seqs: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const seq of seqs) {
    const last = out[out.length - 1];
    if (last && seq - last[1] <= MERGE_GAP && seq - last[0] < MAX_RANGE) last[1] = seq;
    else out.push([seq, seq]);
  }
  return out;
}
