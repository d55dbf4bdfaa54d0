/**
 * The messages between the page (WorkerBackend, client/state/worker-backend.ts) and the engine
 * in a Web Worker (PortSocket, port-socket.ts): the socket.io events of shared/protocol.ts, one
 * postMessage each.
 *
 * page → worker  `{ kind: 'emit', event, args, ackId? }`  a ClientToServerEvents emit; `ackId`
 *                when the emit ends with an acknowledgement function (functions cannot be posted).
 * worker → page  `{ kind: 'event', event, args }`          a ServerToClientEvents emit.
 *                `{ kind: 'ack', ackId, response }`         the answer to the emit with `ackId`.
 *                `{ kind: 'hello', id }`                    the engine listens now (the page's 'connect').
 *
 * page → worker  `{ kind: 'model-files', name, files }`     the model to load, sent once right after
 *                the worker starts when its options say `model: 'files'` (a folder dropped onto
 *                the page): file name → bytes. The engine reads it before the port opens.
 *
 * ArrayBuffers among the arguments (activation frames) are transferred, not copied: the sender
 * must not use them afterwards. Typed-array views are cloned (their buffer may be shared).
 */
export type PageMessage = { kind: 'emit'; event: string; args: unknown[]; ackId?: number };

/** A model's files for the engine (see above); not an event. */
export type ModelFilesMessage = { kind: 'model-files'; name: string; files: Record<string, ArrayBuffer> };

export type WorkerMessage =
  | { kind: 'event'; event: string; args: unknown[] }
  | { kind: 'ack'; ackId: number; response: unknown }
  | { kind: 'hello'; id: string };

/** What both sides post to and listen on: a Worker, the worker's global scope, a MessagePort. */
export interface MessageEndpoint {
  postMessage(message: unknown, transfer: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  /** MessagePorts deliver nothing until started. */
  start?(): void;
}

/** The ArrayBuffers in `value` (arguments, arrays and plain objects a few levels deep), each once. */
export function transferablesIn(value: unknown, found: Set<ArrayBuffer> = new Set(), depth = 0): ArrayBuffer[] {
  if (value instanceof ArrayBuffer) {
    if (value.byteLength > 0) found.add(value);
  } else if (depth < 4 && value !== null && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    const items = Array.isArray(value) ? value : Object.values(value as Record<string, unknown>);
    for (const item of items) transferablesIn(item, found, depth + 1);
  }
  return [...found];
}
