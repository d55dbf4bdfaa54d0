/**
 * The worker's side of the page ↔ engine transport: a socket-like object over a postMessage
 * endpoint (the worker's global scope, or a MessagePort), so the server's socket event handlers
 * (shared/service/handlers.ts: registerHandlers, RunOutbox) run unchanged inside a Web
 * Worker. It has the members those handlers use: on/off(event, handler), emit(event, ...args),
 * id, data, connected/disconnected, and `conn` (an always empty write buffer, so frames are never
 * held back; 'drain' and 'packet' never fire).
 *
 * Incoming emits buffer until open(): register the handlers (after loading the model, say), then
 * open() says hello (the page's 'connect') and delivers what waited. Each emit reaches its
 * handlers with an acknowledgement function last when the page asked for one; an event nobody
 * handles, or a handler that throws (or rejects), is answered with an error in words and the
 * channel keeps working. Messages in port-messages.ts.
 */
import type { ErrorEvent, ServerToClientEvents } from '../../shared/protocol.js';
import { transferablesIn, type MessageEndpoint, type PageMessage } from './port-messages.js';

type Handler = (...args: any[]) => unknown;

/** Events socket.io keeps for itself: a page cannot emit them to the handlers. */
const reserved = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

export class PortSocket {
  readonly data: Record<string, unknown> = {};
  connected = false;
  /** What RunOutbox reads for back-pressure: postMessage has no buffer to watch. */
  readonly conn = {
    writeBuffer: [] as unknown[],
    on: (_event: 'drain' | 'packet', _handler: (...args: any[]) => void) => this.conn,
  };
  private readonly handlers = new Map<string, Handler[]>();
  /** Takes the events no handler takes (`(event, ...args, ack?)`), instead of the unknown-event error. */
  private unhandled: ((event: string, ...args: any[]) => unknown) | null = null;
  private waiting: PageMessage[] | null = [];
  private readonly onMessage = (event: MessageEvent) => this.receive(event.data as PageMessage);

  constructor(private readonly endpoint: MessageEndpoint, readonly id = 'browser') {
    endpoint.addEventListener('message', this.onMessage);
    endpoint.start?.();
  }

  get disconnected(): boolean {
    return !this.connected;
  }

  on(event: string, handler: Handler): this {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), handler]);
    return this;
  }

  /** Answers every event that has no handler of its own (e.g. with why the engine could not start). */
  onUnhandled(handler: (event: string, ...args: any[]) => unknown): this {
    this.unhandled = handler;
    return this;
  }

  off(event: string, handler?: Handler): this {
    if (!handler) this.handlers.delete(event);
    else this.handlers.set(event, (this.handlers.get(event) ?? []).filter((h) => h !== handler));
    return this;
  }

  /** Sends a ServerToClientEvents event to the page; ArrayBuffers among `args` are transferred. */
  emit<E extends keyof ServerToClientEvents>(event: E, ...args: Parameters<ServerToClientEvents[E]>): boolean;
  emit(event: string, ...args: unknown[]): boolean;
  emit(event: string, ...args: unknown[]): boolean {
    this.post({ kind: 'event', event, args });
    return true;
  }

  /** The handlers are registered: say hello to the page and deliver the emits that waited. */
  open(): void {
    if (this.connected) return;
    this.connected = true;
    this.post({ kind: 'hello', id: this.id });
    const waiting = this.waiting ?? [];
    this.waiting = null;
    for (const message of waiting) this.deliver(message);
  }

  /** The page went away (or the engine stops): 'disconnect' handlers run (jobs are dropped). */
  disconnect(reason = 'server namespace disconnect'): void {
    if (!this.connected) return;
    this.connected = false;
    this.endpoint.removeEventListener('message', this.onMessage);
    for (const handler of [...(this.handlers.get('disconnect') ?? [])]) {
      try { handler(reason); } catch { /* the others still run */ }
    }
  }

  private post(message: unknown): void {
    try {
      this.endpoint.postMessage(message, transferablesIn((message as { args?: unknown[]; response?: unknown }).args ?? (message as { response?: unknown }).response));
    } catch (error) {
      // Something the browser cannot clone: tell the page in words instead of losing the answer.
      const kind = (message as { kind: string }).kind;
      const words: ErrorEvent = { code: 'internal', message: `the in-browser engine could not send its ${kind === 'ack' ? 'answer' : `'${(message as { event?: string }).event}' event`} (${(error as Error).message})` };
      if (kind === 'ack') this.endpoint.postMessage({ kind: 'ack', ackId: (message as { ackId: number }).ackId, response: { ok: false, error: words } }, []);
      else this.endpoint.postMessage({ kind: 'event', event: 'error', args: [words] }, []);
    }
  }

  private receive(message: PageMessage): void {
    // The worker's own start-up message (the model's files): read by worker.ts, not an event.
    if ((message as { kind?: unknown } | null)?.kind === 'model-files') return;
    if (message === null || typeof message !== 'object' || message.kind !== 'emit' || typeof message.event !== 'string' || !Array.isArray(message.args)) {
      this.emit('error', { code: 'bad_request', message: 'the in-browser engine received a message that is not an event' });
      return;
    }
    if (this.waiting) this.waiting.push(message);
    else this.deliver(message);
  }

  private deliver({ event, args, ackId }: PageMessage): void {
    let answered = false;
    const ack = ackId === undefined ? null : (response: unknown) => {
      if (answered) return; // one answer per request
      answered = true;
      this.post({ kind: 'ack', ackId, response });
    };
    const fail = (error: ErrorEvent) => {
      if (ack && !answered) ack({ ok: false, error });
      else this.emit('error', error);
    };
    const own = reserved.has(event) ? [] : this.handlers.get(event) ?? [];
    const handlers: Handler[] = own.length === 0 && this.unhandled && !reserved.has(event)
      ? [(...rest: unknown[]) => this.unhandled!(event, ...rest)]
      : own;
    if (handlers.length === 0) {
      fail({ code: 'bad_request', message: `${event}: the in-browser engine does not know this event` });
      return;
    }
    const failed = (error: unknown) => fail({ code: 'internal', message: `${event}: ${(error as Error)?.message ?? String(error)}` });
    for (const handler of handlers) {
      try {
        const result = handler(...args, ...(ack ? [ack] : []));
        if (result instanceof Promise) result.catch(failed);
      } catch (error) {
        failed(error);
      }
    }
  }
}

/** The socket for this worker's own page (call in the worker's top-level code). */
export function workerPortSocket(scope: MessageEndpoint = globalThis as unknown as MessageEndpoint): PortSocket {
  return new PortSocket(scope);
}
