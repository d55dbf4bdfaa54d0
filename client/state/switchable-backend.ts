/**
 * A Backend whose answerer can be replaced while the page runs (a model folder dropped onto a
 * page that runs the engine in the browser: a new engine worker for it). Every service keeps the
 * one object it was given (connection.backend); this forwards to the current backend and
 * remembers the listeners registered on it, so that on `replace` the old backend is closed (its
 * worker terminated, its pending requests answered in words) and the same listeners hear the new one.
 */
import type { Backend, BackendListenEvents, TimedArgs } from './backend.js';
import type { ClientToServerEvents } from '../../shared/protocol.js';

type Listener = (...args: any[]) => void;

export class SwitchableBackend implements Backend {
  private readonly listeners: Array<[string, Listener]> = [];
  private anyListeners: Listener[] = [];

  constructor(private inner: Backend) {}

  /** The backend answering now. */
  get current(): Backend {
    return this.inner;
  }

  get id(): string | undefined { return this.inner.id; }
  get connected(): boolean { return this.inner.connected; }
  get active(): boolean { return this.inner.active; }
  get auth() { return this.inner.auth; }
  set auth(value: Backend['auth']) { this.inner.auth = value; }

  emit<E extends keyof ClientToServerEvents>(event: E, ...args: Parameters<ClientToServerEvents[E]>): this {
    this.inner.emit(event, ...args);
    return this;
  }

  timeout(ms: number): { emit<E extends keyof ClientToServerEvents>(event: E, ...args: TimedArgs<E>): unknown } {
    return { emit: (event, ...args) => this.inner.timeout(ms).emit(event, ...args) };
  }

  on<E extends keyof BackendListenEvents>(event: E, listener: BackendListenEvents[E]): this {
    this.listeners.push([event, listener as Listener]);
    this.inner.on(event, listener);
    return this;
  }

  off<E extends keyof BackendListenEvents>(event: E, listener?: BackendListenEvents[E]): this {
    for (let i = this.listeners.length - 1; i >= 0; i--) {
      const [e, l] = this.listeners[i]!;
      if (e === event && (!listener || l === listener)) this.listeners.splice(i, 1);
    }
    this.inner.off(event, listener);
    return this;
  }

  prependAny(listener: (event: string, ...args: any[]) => void): this {
    this.anyListeners = [listener, ...this.anyListeners];
    this.inner.prependAny(listener);
    return this;
  }

  offAny(listener?: (event: string, ...args: any[]) => void): this {
    this.anyListeners = listener ? this.anyListeners.filter((l) => l !== listener) : [];
    this.inner.offAny(listener);
    return this;
  }

  connect(): this {
    this.inner.connect();
    return this;
  }

  close(): this {
    this.inner.close();
    return this;
  }

  removeAllListeners(): this {
    this.listeners.length = 0;
    this.anyListeners = [];
    this.inner.removeAllListeners();
    return this;
  }

  /**
   * Closes the current backend without its listeners hearing it go (no 'disconnect': the page
   * resets its own state), then attaches every listener to `next`, in the order they were added.
   */
  replace(next: Backend): void {
    const old = this.inner;
    old.removeAllListeners();
    old.offAny();
    old.close();
    this.inner = next;
    for (const [event, listener] of this.listeners) next.on(event as keyof BackendListenEvents, listener as never);
    for (const listener of [...this.anyListeners].reverse()) next.prependAny(listener);
  }
}
