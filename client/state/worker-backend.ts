/**
 * The in-browser engine as a Backend: the events of shared/protocol.ts over postMessage to a Web
 * Worker (client/engine-worker/, messages in port-messages.ts). It behaves like the socket.io
 * socket where the page can tell: 'connect' when the worker's engine says hello, acknowledgements
 * by id, timeout() emits, catch-all listeners; a worker that fails to start is a 'connect_error'
 * in words, and one that stops answers every pending request with the reason.
 */
import type { Backend, BackendListenEvents, CircuitsSocket, TimedArgs } from './backend.js';
import type { ClientToServerEvents, ErrorEvent } from '../../shared/protocol.js';
import { transferablesIn, type MessageEndpoint, type WorkerMessage } from '../engine-worker/port-messages.js';

type Listener = (...args: any[]) => void;
type PendingAck = { answer: (response: unknown) => void; fail: (error: ErrorEvent) => void };

export interface WorkerBackendOptions {
  /** Ends the other side (Worker.terminate) on close(). */
  terminate?: () => void;
}

export class WorkerBackend implements Backend {
  id: string | undefined = undefined;
  connected = false;
  /** Kept for code that reads or sets it (rooms); the worker has no handshake. */
  auth: CircuitsSocket['auth'] = {};
  private closed = false;
  private readonly listeners = new Map<string, Listener[]>();
  private anyListeners: Listener[] = [];
  private readonly pending = new Map<number, PendingAck>();
  private nextAckId = 1;
  private readonly onMessage = (event: MessageEvent) => this.receive(event.data as WorkerMessage);

  constructor(private readonly endpoint: MessageEndpoint, private readonly options: WorkerBackendOptions = {}) {
    endpoint.addEventListener('message', this.onMessage);
    endpoint.start?.();
  }

  get active(): boolean {
    return !this.closed;
  }

  get disconnected(): boolean {
    return !this.connected;
  }

  emit<E extends keyof ClientToServerEvents>(event: E, ...args: Parameters<ClientToServerEvents[E]>): this {
    this.send(event, args as unknown[], null);
    return this;
  }

  timeout(ms: number): { emit<E extends keyof ClientToServerEvents>(event: E, ...args: TimedArgs<E>): unknown } {
    return {
      emit: (event: string, ...args: unknown[]) => {
        this.send(event, args, ms);
        return this;
      },
    };
  }

  on<E extends keyof BackendListenEvents>(event: E, listener: BackendListenEvents[E]): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener as Listener]);
    return this;
  }

  off<E extends keyof BackendListenEvents>(event: E, listener?: BackendListenEvents[E]): this {
    if (!listener) this.listeners.delete(event);
    else this.listeners.set(event, (this.listeners.get(event) ?? []).filter((l) => l !== listener));
    return this;
  }

  prependAny(listener: (event: string, ...args: any[]) => void): this {
    this.anyListeners = [listener, ...this.anyListeners];
    return this;
  }

  offAny(listener?: (event: string, ...args: any[]) => void): this {
    this.anyListeners = listener ? this.anyListeners.filter((l) => l !== listener) : [];
    return this;
  }

  /** The worker connects by itself once its engine listens; nothing to do after close(). */
  connect(): this {
    return this;
  }

  removeAllListeners(): this {
    this.listeners.clear();
    this.anyListeners = [];
    return this;
  }

  close(): this {
    if (this.closed) return this;
    this.closed = true;
    this.endpoint.removeEventListener('message', this.onMessage);
    this.options.terminate?.();
    this.stop('the in-browser engine was closed', 'io client disconnect');
    return this;
  }

  /**
   * The worker failed: before its hello it never started ('connect_error'), after it it stopped
   * ('disconnect'); either way pending requests are answered with `message` and nothing more is sent.
   */
  fail(message: string): void {
    if (this.closed) return;
    this.closed = true;
    this.endpoint.removeEventListener('message', this.onMessage);
    this.options.terminate?.();
    const wasConnected = this.connected;
    this.stop(message, 'transport error');
    if (!wasConnected) this.dispatch('connect_error', [Object.assign(new Error(message), { data: { code: 'engine_failed' } })]);
  }

  /** An 'error' event from the engine's side (not tied to a request). */
  report(error: ErrorEvent): void {
    if (!this.closed) this.dispatch('error', [error]);
  }

  private stop(message: string, reason: string): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const ack of pending) ack.fail({ code: 'internal', message });
    if (this.connected) {
      this.connected = false;
      this.dispatch('disconnect', [reason]);
    }
  }

  private send(event: string, args: unknown[], timeoutMs: number | null): void {
    const last = args[args.length - 1];
    const callback = typeof last === 'function' ? (last as Listener) : null;
    const payload = callback ? args.slice(0, -1) : args;
    let ackId: number | undefined;
    if (callback) {
      ackId = this.nextAckId++;
      const id = ackId;
      let timer: ReturnType<typeof setTimeout> | null = null;
      if (timeoutMs !== null) {
        timer = setTimeout(() => {
          if (this.pending.delete(id)) callback(new Error('operation has timed out'));
        }, timeoutMs);
      }
      const settle = () => { if (timer) clearTimeout(timer); };
      this.pending.set(id, {
        answer: (response) => { settle(); timeoutMs === null ? callback(response) : callback(null, response); },
        fail: (error) => { settle(); timeoutMs === null ? callback({ ok: false, error }) : callback(new Error(error.message)); },
      });
    }
    if (this.closed) {
      const ack = ackId === undefined ? undefined : this.pending.get(ackId);
      if (ackId !== undefined) this.pending.delete(ackId);
      ack?.fail({ code: 'internal', message: `${event}: the in-browser engine is not running` });
      return;
    }
    try {
      this.endpoint.postMessage({ kind: 'emit', event, args: payload, ...(ackId === undefined ? {} : { ackId }) }, transferablesIn(payload));
    } catch (error) {
      // A payload the browser cannot clone (a function, a DOM node): say so where it was sent.
      const ack = ackId === undefined ? undefined : this.pending.get(ackId);
      if (ackId !== undefined) this.pending.delete(ackId);
      const report = { code: 'bad_request', message: `${event}: the request could not be sent to the in-browser engine (${(error as Error).message})` };
      if (ack) ack.fail(report);
      else this.dispatch('error', [report]);
    }
  }

  private receive(message: WorkerMessage): void {
    if (this.closed || message === null || typeof message !== 'object') return;
    switch (message.kind) {
      case 'hello':
        this.id = message.id;
        if (!this.connected) {
          this.connected = true;
          this.dispatch('connect', []);
        }
        return;
      case 'ack': {
        const ack = this.pending.get(message.ackId);
        if (!ack) return; // timed out already
        this.pending.delete(message.ackId);
        ack.answer(message.response);
        return;
      }
      case 'event':
        for (const listener of [...this.anyListeners]) this.call(listener, [message.event, ...message.args]);
        this.dispatch(message.event, message.args);
        return;
    }
  }

  private dispatch(event: string, args: unknown[]): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) this.call(listener, args);
  }

  /** One listener's exception does not keep the others from hearing the event. */
  private call(listener: Listener, args: unknown[]): void {
    try {
      listener(...args);
    } catch (error) {
      setTimeout(() => { throw error; });
    }
  }
}

/** Answers in words for a worker's 'error' event (a script that failed to load, an uncaught exception). */
function workerErrorWords(event: Event): string {
  const message = (event as Event & { message?: string }).message;
  return message ? `the in-browser engine failed: ${message}` : 'the in-browser engine failed to start (its script could not be loaded or run)';
}

/**
 * The engine worker of this page as a Backend. A worker that cannot start (or dies) is reported in
 * words through 'connect_error' (or 'disconnect' with the pending requests answered).
 */
export function createWorkerBackend(worker: Worker): WorkerBackend {
  const backend = new WorkerBackend(worker as unknown as MessageEndpoint, { terminate: () => worker.terminate() });
  worker.addEventListener('error', (event) => {
    // Before its hello the worker could not load or start: fatal. After it, an exception that
    // escaped the engine (outside a handler) is shown in words and the engine keeps serving.
    event.preventDefault();
    if (backend.connected) backend.report({ code: 'internal', message: workerErrorWords(event) });
    else backend.fail(workerErrorWords(event));
  });
  worker.addEventListener('messageerror', () => {
    backend.fail('the in-browser engine sent a message this page could not read');
  });
  return backend;
}
