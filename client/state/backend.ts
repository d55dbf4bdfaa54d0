/**
 * The one interface the page talks to, whoever answers: the typed subset of the socket.io client
 * Socket the client uses (emit with acknowledgement, on/off, connected, id and the connection
 * lifecycle). Two implementations: the socket.io socket to the Node server (socketBackend), and WorkerBackend (worker-backend.ts), the same events over
 * postMessage to the in-browser engine in a Web Worker. Views never ask which one they have.
 */
import type { Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../shared/protocol.js';

/** The socket.io client socket to the server. */
export type CircuitsSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Who answers: the Node server over socket.io, or the engine in a Web Worker of this page. */
export type BackendKind = 'server' | 'browser';

/** The connection lifecycle events, as socket.io names them. */
export interface LifecycleEvents {
  connect: () => void;
  /** The server refused the connection, or the worker failed to start; `data.code` when refused in words. */
  connect_error: (error: Error & { data?: { code?: string } }) => void;
  /** `details`: socket.io's description of a transport close (websocket close code in `context.code`). */
  disconnect: (reason: string, details?: unknown) => void;
}

export type BackendListenEvents = ServerToClientEvents & LifecycleEvents;

type EmitName = keyof ClientToServerEvents;

/** An event's arguments with its acknowledgement taking an error first (socket.io's timeout():
 * the error is null when the answer came in time). Spelled as socket.io-client spells it. */
type PrependTimeoutError<T extends any[]> = {
  [K in keyof T]: T[K] extends (...args: infer Params) => infer Result ? (err: Error, ...args: Params) => Result : T[K];
};
type DecorateAcknowledgements<E> = {
  [K in keyof E]: E[K] extends (...args: infer Params) => infer Result ? (...args: PrependTimeoutError<Params>) => Result : E[K];
};
export type TimedArgs<E extends EmitName> = Parameters<DecorateAcknowledgements<ClientToServerEvents>[E]>;

export interface Backend {
  /** This client's id (the worker's fixed id in the browser); undefined while not connected. */
  readonly id: string | undefined;
  readonly connected: boolean;
  /** Still trying to (re)connect. */
  readonly active: boolean;
  /** socket.io's handshake auth (token, room link); a worker keeps it and ignores it. */
  auth: CircuitsSocket['auth'];
  emit<E extends EmitName>(event: E, ...args: Parameters<ClientToServerEvents[E]>): unknown;
  /** Emits whose acknowledgement gets an Error when no answer came within `ms`. */
  timeout(ms: number): { emit<E extends EmitName>(event: E, ...args: TimedArgs<E>): unknown };
  on<E extends keyof BackendListenEvents>(event: E, listener: BackendListenEvents[E]): unknown;
  off<E extends keyof BackendListenEvents>(event: E, listener?: BackendListenEvents[E]): unknown;
  /** Hears every incoming event before its own listeners. */
  prependAny(listener: (event: string, ...args: any[]) => void): unknown;
  offAny(listener?: (event: string, ...args: any[]) => void): unknown;
  connect(): unknown;
  close(): unknown;
  removeAllListeners(): unknown;
}

/**
 * The socket.io socket as a Backend. At every concrete event the socket's signatures are these;
 * TypeScript cannot relate socket.io's generic helper types to ours in general, hence the cast.
 */
export function socketBackend(socket: CircuitsSocket): Backend {
  return socket as unknown as Backend;
}

/** True for the socket.io socket (it has a Manager with its own reconnection events). */
export function isSocketBackend(backend: Backend): backend is Backend & CircuitsSocket {
  return typeof (backend as Partial<CircuitsSocket>).io === 'object' && (backend as Partial<CircuitsSocket>).io !== null;
}
