/**
 * Shared by the room tests: real socket.io clients against real servers, and a small event
 * recorder so a test can wait for what a follower receives (or check it never received something).
 */
import { io as connect, type Socket, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents, RoomJoined } from '../../../shared/protocol.js';

export type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface Recorder {
  socket: Client;
  /** Every event received, in order: [event, ...args]. */
  events: unknown[][];
  /** Resolves with the first event (from `from` on) matching `test`, or rejects after `ms`. */
  next: (event: string, test?: (...args: unknown[]) => boolean, ms?: number, from?: number) => Promise<unknown[]>;
  of: (event: string) => unknown[][];
}

export function record(socket: Client): Recorder {
  const events: unknown[][] = [];
  const waiters: { event: string; test: (...args: unknown[]) => boolean; resolve: (args: unknown[]) => void }[] = [];
  socket.onAny((event: string, ...args: unknown[]) => {
    events.push([event, ...args]);
    for (const w of [...waiters]) {
      if (w.event === event && w.test(...args)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(args);
      }
    }
  });
  return {
    socket, events,
    of: (event) => events.filter((e) => e[0] === event).map((e) => e.slice(1)),
    next: (event, test = () => true, ms = 20_000, from = 0) => {
      const seen = events.slice(from).find((e) => e[0] === event && test(...e.slice(1)));
      if (seen) return Promise.resolve(seen.slice(1));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), ms);
        waiters.push({ event, test, resolve: (args) => { clearTimeout(timer); resolve(args); } });
      });
    },
  };
}

/** Connects and records from the first packet; throws the refusal's message when refused. */
export async function join(url: string, auth: Record<string, string>, options: Partial<ManagerOptions & SocketOptions> = {}): Promise<Recorder> {
  const socket: Client = connect(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth, ...options });
  const recorder = record(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => { socket.close(); reject(error); });
  });
  return recorder;
}

export async function joined(r: Recorder): Promise<RoomJoined> {
  return (await r.next('room:joined'))[0] as RoomJoined;
}

/** Emits with an acknowledgement and resolves with the ack's response. */
export function call<T = unknown>(socket: Client, event: string, ...args: unknown[]): Promise<{ ok: true; value: T } | { ok: false; error: { code: string; message: string } }> {
  return new Promise((resolve) => (socket.emit as (...a: unknown[]) => void)(event, ...args, resolve));
}

export function queryOf(link: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(link.slice(link.indexOf('?'))));
}
