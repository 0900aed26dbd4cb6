/**
 * Change notifications for the PostgreSQL driver: every append runs `pg_notify(channel, {id, seq})`
 * inside its transaction (delivered on commit). One dedicated connection per driver LISTENs on the
 * schema's channel and dispatches by session id; it is opened on the first subscription, and when it
 * drops it is re-opened with back-off and every subscriber is poked (a notification may have been
 * missed while it was down: delivery may repeat or coalesce, never silently stop).
 */
import { quoteIdent } from './schema.js';

/** The subset of a pg client a listener uses. */
export interface ListenClient {
  query(text: string, values?: unknown[]): Promise<unknown>;
  on(event: 'notification', listener: (message: { channel: string; payload?: string | undefined }) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
}

interface Listening {
  client: ListenClient;
  dispose: () => Promise<void>;
  /** Detaches this listener's handlers (an error handler stays until the connection is gone). */
  detach: () => void;
}

export interface ListenerOptions {
  channel: string;
  /** A fresh connection for listening, and how to give it back (destroying it). */
  connect: () => Promise<{ client: ListenClient; dispose: () => Promise<void> }>;
  /** Reported when the listening connection fails (already sanitised by the caller if needed). */
  onError?: (err: unknown) => void;
}

export class ChangeListener {
  private readonly subscribers = new Map<string, Set<() => void>>();
  private current: Listening | null = null;
  private starting: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelay = 100;
  private closed = false;

  constructor(private readonly options: ListenerOptions) {}

  /** Resolves once the channel is being listened to, to a function that removes the subscription. */
  async subscribe(id: string, onChange: () => void): Promise<() => Promise<void>> {
    if (this.closed) throw new Error('the change listener is closed');
    let set = this.subscribers.get(id);
    if (!set) this.subscribers.set(id, (set = new Set()));
    // Each subscription gets its own entry, so the same callback may subscribe twice.
    const entry = () => onChange();
    set.add(entry);
    try {
      await this.ensureListening();
    } catch (err) {
      this.remove(id, entry);
      throw err;
    }
    return async () => {
      this.remove(id, entry);
      if (this.subscribers.size === 0) await this.stop();
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subscribers.clear();
    await this.stop();
  }

  private remove(id: string, entry: () => void): void {
    const set = this.subscribers.get(id);
    if (!set) return;
    set.delete(entry);
    if (set.size === 0) this.subscribers.delete(id);
  }

  private async ensureListening(): Promise<void> {
    if (this.current) return;
    if (!this.starting) {
      this.starting = this.start().finally(() => (this.starting = null));
    }
    await this.starting;
  }

  private async start(): Promise<void> {
    const { client, dispose } = await this.options.connect();
    let dropped = false;
    const onError = (err: Error) => onDrop(err);
    const onEnd = () => onDrop();
    const onNotification = (message: { channel: string; payload?: string | undefined }) => {
      if (message.channel !== this.options.channel || !message.payload) return;
      let id: unknown;
      try {
        id = (JSON.parse(message.payload) as { id?: unknown }).id;
      } catch {
        return;
      }
      if (typeof id === 'string') this.dispatch(id);
    };
    const conn: Listening = {
      client,
      dispose,
      detach: () => {
        dropped = true;
        client.removeListener('notification', onNotification);
        client.removeListener('end', onEnd);
        client.removeListener('error', onError);
        client.on('error', () => undefined); // the closing connection may still report an error
      },
    };
    const onDrop = (err?: unknown) => {
      if (dropped) return;
      conn.detach();
      if (err !== undefined) this.options.onError?.(err);
      if (this.current === conn) this.current = null;
      void dispose().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on('error', onError);
    client.on('end', onEnd);
    client.on('notification', onNotification);
    try {
      await client.query(`LISTEN ${quoteIdent(this.options.channel)}`);
    } catch (err) {
      conn.detach();
      await dispose().catch(() => undefined);
      throw err;
    }
    if (dropped) throw new Error('the listening connection closed while starting');
    if (this.closed || this.subscribers.size === 0) {
      conn.detach();
      await dispose().catch(() => undefined);
      return;
    }
    this.current = conn;
    this.retryDelay = 100;
  }

  private dispatch(id: string): void {
    const set = this.subscribers.get(id);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn();
      } catch {
        // a subscriber's failure is its own
      }
    }
  }

  private pokeAll(): void {
    for (const id of [...this.subscribers.keys()]) this.dispatch(id);
  }

  private scheduleReconnect(): void {
    if (this.closed || this.subscribers.size === 0 || this.retryTimer) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.retryDelay * 2, 5000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.closed || this.subscribers.size === 0) return;
      this.ensureListening().then(
        () => this.pokeAll(), // anything appended while we were not listening is picked up now
        (err) => {
          this.options.onError?.(err);
          this.scheduleReconnect();
        },
      );
    }, delay);
    this.retryTimer.unref?.();
  }

  private async stop(): Promise<void> {
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    if (this.starting) await this.starting.catch(() => undefined);
    const conn = this.current;
    this.current = null;
    if (conn) {
      conn.detach();
      await conn.dispose().catch(() => undefined);
    }
  }
}
