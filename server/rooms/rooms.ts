/**
 * Presentation rooms: one presenter drives, the room follows. A room is opened by an operator
 * ('room:open' or `npm start -- --present`); members join at connection (socket.io
 * `auth: { room, control? }`), so a reconnecting follower rejoins and gets the snapshot at once,
 * and the last run's frames and results when it asks ('room:replay', see replay.ts).
 *
 * - Roles are enforced here, not by the page: only the room's controller may run the model or
 *   change the shared state; the owner (who holds the control token) may hand control to another
 *   member and take it back. The control token is never sent to anyone; the store keeps its hash.
 * - Broadcast, not replay: the model runs once per presenter action; the frames, tokens and
 *   progress the presenter's socket receives are also sent to the rest of the room
 *   (`socket.to(room)`, which crosses server processes through the Redis adapter), and the
 *   presenter's acknowledged result is relayed as 'room:result'.
 * - Pointer and camera updates are volatile emits under a per-sender rate limit.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Server, Socket } from 'socket.io';
import type {
  ClientToServerEvents, ErrorEvent, RoomJoined, RoomNetwork, RoomOpened, RoomState, ServerToClientEvents, InterServerEvents, SocketData,
} from '../../shared/protocol.js';
import { ForbiddenError } from '../transport/access.js';
import { PayloadError } from '../../shared/service/validate.js';
import { RateLimiter } from './rate-limit.js';
import { roomNetwork } from './network.js';
import { checkCamera, checkPointer, mergeState } from './state.js';
import { MemoryRoomStore, REPLAY_PARTS, type RoomStore } from './store.js';
import { decodeReplay, encodeReplay, type ReplayEvent } from './replay.js';

type RoomSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
type AckFn = (response: { ok: true; value: unknown } | { ok: false; error: ErrorEvent }) => void;

export const DEFAULT_MAX_ROOM_MEMBERS = 200;
/** Pointer and camera updates per second per sender (sustained, and at once). */
export const POINTER_RATE = { perSecond: 30, burst: 10 };

/** Model actions that change what the room sees: only the controller may make them in a room. */
const SHARED_ACTIONS = new Set(['run:prompt', 'generate:start', 'run:cancel', 'analysis:effects', 'analysis:graph']);
/** Their acknowledged results, relayed to the room. */
const RELAYED_RESULTS = new Set(['run:prompt', 'generate:start', 'analysis:effects', 'analysis:graph']);
/** What the presenter's socket is sent during a shared action that the room is sent too. */
const BROADCAST_EMITS = new Set(['run:frame', 'generate:token', 'generate:done', 'analysis:progress']);

/** Of those, the ones that make up a run (kept for late joiners, see replay.ts). */
const RUN_EVENTS = new Set(['run:frame', 'generate:token', 'generate:done']);
/** A run kept for late joiners stops growing past this many bytes of frames (they then see its start). */
const MAX_REPLAY_BYTES = 48 * 1024 * 1024;

const ROOM_ID = /^[A-Za-z0-9_-]{16,64}$/;

export interface RoomOptions {
  /** Default: in this process. With Redis: RedisRoomStore. */
  store?: RoomStore;
  /** Members per room (default 200). */
  maxMembers?: number;
  pointerRate?: { perSecond: number; burst: number };
  /** The address the server listens on (for the audience link's network addresses; default loopback). */
  bindHost?: string;
}

/** A refused connection's error, as access.ts sends them (`err.message`, `err.data.code`). */
class RoomRefusal extends Error {
  readonly data: { code: string };
  constructor(code: string, message: string) {
    super(message);
    this.data = { code };
  }
}

const hash = (token: string) => createHash('sha256').update(token).digest('hex');
function sameHash(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

export class Rooms {
  readonly store: RoomStore;
  readonly maxMembers: number;
  private readonly rate: { perSecond: number; burst: number };
  /** The address the server listens on (room links: which addresses phones can reach). */
  private readonly bindHost: string;
  /** Per room, the state updates of this process in order (read, merge, write). */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly io: Server, options: RoomOptions = {}) {
    this.store = options.store ?? new MemoryRoomStore();
    this.maxMembers = options.maxMembers ?? DEFAULT_MAX_ROOM_MEMBERS;
    if (!(Number.isInteger(this.maxMembers) && this.maxMembers >= 1)) throw new Error(`room size limit must be a positive integer, got ${options.maxMembers}`);
    this.rate = options.pointerRate ?? POINTER_RATE;
    this.bindHost = options.bindHost ?? '127.0.0.1';
  }

  /** Where phones can reach this server, read from the network interfaces at each call. */
  network(): RoomNetwork {
    return roomNetwork(this.bindHost);
  }

  /** A new room: its id (the audience's credential) and control token (the presenter's). */
  async open(): Promise<{ room: string; control: string }> {
    const room = randomBytes(16).toString('base64url');
    const control = randomBytes(24).toString('base64url');
    await this.store.create(room, hash(control));
    return { room, control };
  }

  /** The two links as query strings; `accessToken` (the server's) goes on the presenter's only. */
  static links(room: string, control: string, accessToken?: string | null): Omit<RoomOpened, 'room'> {
    const token = accessToken ? `token=${encodeURIComponent(accessToken)}&` : '';
    return { presenterQuery: `?${token}room=${room}&control=${control}`, audienceQuery: `?room=${room}` };
  }

  /** Whether a connection asks for a room (access.ts admits those without the access token,
   * as room-bound viewers; the middleware below then checks the room exists). */
  static claimsRoom(socket: Socket): boolean {
    return typeof (socket.handshake.auth as { room?: unknown } | undefined)?.room === 'string';
  }

  /** socket.io middleware, after access control: checks the room, the control token and the size limit. */
  middleware = (socket: Socket, next: (error?: Error) => void): void => {
    const auth = (socket.handshake.auth ?? {}) as { room?: unknown; control?: unknown };
    if (auth.room === undefined) return next();
    void (async () => {
      if (typeof auth.room !== 'string' || !ROOM_ID.test(auth.room)) throw new RoomRefusal('bad_request', 'refused: the room in this link is malformed (copy the whole audience link)');
      if (auth.control !== undefined && typeof auth.control !== 'string') throw new RoomRefusal('bad_request', 'refused: the control token must be a string');
      const record = await this.store.get(auth.room);
      if (!record) throw new RoomRefusal('not_found', 'refused: no such room (the presenter may have closed it, or the link is incomplete)');
      const owner = typeof auth.control === 'string' && sameHash(hash(auth.control), record.tokenHash);
      if (typeof auth.control === 'string' && !owner) throw new RoomRefusal('unauthorized', 'refused: wrong control token for this room (use the presenter link, or the audience link without a token)');
      if ((await this.store.addMember(auth.room, this.maxMembers)) === null) {
        throw new RoomRefusal('busy', `refused: the room is full (${this.maxMembers} members, its limit; the server sets it with --room-size)`);
      }
      socket.data.room = auth.room;
      socket.data.roomOwner = owner;
    })().then(() => next(), (error: Error) => next(error instanceof RoomRefusal ? error : new RoomRefusal('internal', `refused: rooms are unavailable (${error.message})`)));
  };

  /** Per connection: joins the room, enforces roles on shared actions, relays what the presenter gets. */
  attach(socket: RoomSocket, canOpen: boolean, toError: (error: unknown) => ErrorEvent, accessToken: string | null): void {
    const limiter = { pointer: new RateLimiter(this.rate.perSecond, this.rate.burst), camera: new RateLimiter(this.rate.perSecond, this.rate.burst) };
    const room = () => socket.data.room;

    // The presenter's current run as a late joiner will be sent it (persisted at its result, at
    // its end, and at most twice a second while it streams).
    let recording: { room: string; events: ReplayEvent[]; bytes: number; timer: NodeJS.Timeout | null } | null = null;
    let lastPrompt: string | null = null;
    const persistRun = () => {
      const rec = recording;
      if (!rec) return;
      if (rec.timer) clearTimeout(rec.timer);
      rec.timer = null;
      void this.store.setReplay(rec.room, 'run', encodeReplay(rec.events)).catch(() => {});
    };
    const schedulePersist = () => {
      if (recording && !recording.timer) recording.timer = setTimeout(persistRun, 500);
    };

    // What the presenter receives during a shared action goes to the rest of the room as well.
    const emit = socket.emit.bind(socket) as (event: string, ...args: unknown[]) => boolean;
    (socket as unknown as { emit: typeof emit }).emit = (event, ...args) => {
      const r = room();
      if (r && BROADCAST_EMITS.has(event)) {
        const crossed = args.map(crossable);
        (socket.to(r).emit as (event: string, ...args: unknown[]) => boolean)(event, ...crossed);
        if (recording?.room === r && RUN_EVENTS.has(event) && recording.bytes < MAX_REPLAY_BYTES) {
          recording.events.push([event, ...crossed]);
          recording.bytes += crossed.reduce<number>((n, a) => n + (Buffer.isBuffer(a) ? a.byteLength : 64), 0);
          if (event === 'generate:done') persistRun();
          else schedulePersist();
        }
      }
      return emit(event, ...args);
    };

    const requireController = async (event: string): Promise<string> => {
      const r = room();
      if (!r) throw new PayloadError(`${event}: this connection is not in a room`);
      if ((await this.store.controller(r)) !== socket.id) {
        throw new ForbiddenError(`${event}: only the presenter may do this in a presentation room (you are following; the presenter can hand you control)`);
      }
      return r;
    };

    socket.use((packet, next) => {
      const event = String(packet[0]);
      const r = room();
      if (!r || !SHARED_ACTIONS.has(event)) return next();
      const last = packet[packet.length - 1];
      const ack = typeof last === 'function' ? (last as AckFn) : null;
      requireController(event).then(() => {
        const isRun = event === 'run:prompt' || event === 'generate:start';
        if (isRun) {
          if (recording?.timer) clearTimeout(recording.timer);
          recording = { room: r, events: [], bytes: 0, timer: null };
          // Analysis results of another prompt no longer apply to what the room sees.
          const prompt = (packet[1] as { prompt?: unknown } | undefined)?.prompt;
          if (typeof prompt === 'string' && prompt !== lastPrompt) {
            lastPrompt = prompt;
            void this.store.setReplay(r, 'effects', null).then(() => this.store.setReplay(r, 'graph', null)).catch(() => {});
          }
        }
        if (ack && RELAYED_RESULTS.has(event)) {
          const rec = recording;
          packet[packet.length - 1] = ((response) => {
            if (response.ok) {
              const value = crossable(response.value);
              socket.to(r).emit('room:result', event, value);
              if (isRun && rec && rec === recording) {
                rec.events.push(['room:result', event, value]);
                persistRun();
              } else if (!isRun) {
                void this.store.setReplay(r, event === 'analysis:effects' ? 'effects' : 'graph', encodeReplay([['room:result', event, value]])).catch(() => {});
              }
            }
            ack(response);
          }) as AckFn;
        }
        next();
      }, (error: unknown) => {
        if (ack) ack({ ok: false, error: toError(error) });
        else socket.emit('error', toError(error));
      });
    });

    const on = (event: string, handler: (payload: unknown, ack: AckFn | null) => Promise<void>, needsPayload = true) => {
      socket.on(event as never, ((...args: unknown[]) => {
        const last = args[args.length - 1];
        const ack = typeof last === 'function' ? (last as AckFn) : null;
        const payload = needsPayload ? args[0] : undefined;
        handler(payload, ack).catch((error: unknown) => {
          if (ack) ack({ ok: false, error: toError(error) });
          else socket.emit('error', toError(error));
        });
      }) as never);
    };
    const needAck = (event: string, ack: AckFn | null): AckFn => {
      if (!ack) throw new PayloadError(`${event}: an acknowledgement callback is required`);
      return ack;
    };

    on('room:open', async (_payload, rawAck) => {
      const ack = needAck('room:open', rawAck);
      if (!canOpen) throw new ForbiddenError('room:open: only the operator may open a presentation room (open the link with the access token printed by npm start)');
      if (room()) throw new PayloadError(`room:open: this connection is already in room ${room()}`);
      const { room: id, control } = await this.open();
      await this.store.addMember(id, this.maxMembers);
      socket.data.room = id;
      socket.data.roomOwner = true;
      ack({ ok: true, value: { room: id, ...Rooms.links(id, control, accessToken), network: this.network() } });
      await this.join(socket);
    }, false);

    on('room:state', async (update, rawAck) => {
      const r = await requireController('room:state');
      const version = await this.serial(r, async () => {
        const record = await this.store.get(r);
        if (!record) throw new PayloadError('room:state: the room no longer exists');
        const state = mergeState('room:state', record.state, update);
        await this.store.setState(r, state, record.version + 1);
        this.io.to(r).emit('room:state', state, record.version + 1);
        return record.version + 1;
      });
      rawAck?.({ ok: true, value: { version } });
    });

    on('room:pointer', async (pointer) => {
      if (!limiter.pointer.take()) return; // over the rate: dropped, the next pose replaces it
      const p = checkPointer('room:pointer', pointer);
      const r = await requireController('room:pointer');
      socket.to(r).volatile.emit('room:pointer', p);
    });

    on('room:camera', async (pose) => {
      if (!limiter.camera.take()) return;
      const camera = checkCamera('room:camera', pose);
      const r = await requireController('room:camera');
      socket.to(r).volatile.emit('room:camera', camera);
      // Kept in the snapshot (no version bump, no state broadcast) so late joiners see the view.
      await this.serial(r, async () => {
        const record = await this.store.get(r);
        if (record) await this.store.setState(r, { ...record.state, camera }, record.version);
      });
    });

    on('room:hand', async (memberId, rawAck) => {
      const ack = needAck('room:hand', rawAck);
      const r = room();
      if (!r) throw new PayloadError('room:hand: this connection is not in a room');
      if (typeof memberId !== 'string' || memberId.length === 0 || memberId.length > 64) throw new PayloadError('room:hand: expected a member id string');
      if (!socket.data.roomOwner && (await this.store.controller(r)) !== socket.id) {
        throw new ForbiddenError('room:hand: only the room\'s owner or its current presenter may hand control over');
      }
      const members = await this.io.in(r).fetchSockets();
      if (!members.some((m) => m.id === memberId)) throw new PayloadError(`room:hand: ${memberId} is not a member of this room`);
      await this.store.setController(r, memberId);
      this.io.to(r).emit('room:control', memberId);
      ack({ ok: true, value: { controller: memberId } });
    }, true);

    on('room:take', async (_payload, rawAck) => {
      const ack = needAck('room:take', rawAck);
      const r = room();
      if (!r) throw new PayloadError('room:take: this connection is not in a room');
      if (!socket.data.roomOwner) throw new ForbiddenError('room:take: only the room\'s owner (the presenter link) may take control');
      await this.store.setController(r, socket.id);
      this.io.to(r).emit('room:control', socket.id);
      ack({ ok: true, value: { controller: socket.id } });
    }, false);

    // The room's last run and results, as they were sent live (nothing is run again): a member
    // asks once it can show them (its page knows the model), and again after its own refused run.
    on('room:replay', async () => {
      if (room()) await this.replayTo(socket);
    }, false);

    on('room:members', async (_payload, rawAck) => {
      const ack = needAck('room:members', rawAck);
      const r = room();
      if (!r) throw new PayloadError('room:members: this connection is not in a room');
      const controller = await this.store.controller(r);
      if (!socket.data.roomOwner && controller !== socket.id) throw new ForbiddenError('room:members: only the room\'s owner or its current presenter may list its members');
      const members = await this.io.in(r).fetchSockets();
      ack({ ok: true, value: { members: members.map((m) => ({ id: m.id, owner: (m.data as SocketData).roomOwner === true, controller: m.id === controller })) } });
    }, false);

    socket.on('disconnect', () => {
      const r = room();
      if (r) void this.store.removeMember(r).catch(() => {});
    });

    if (room()) void this.join(socket).catch((error: Error) => socket.emit('error', toError(error)));
  }

  /** Joins the socket's room; the owner (re)takes control; the member gets the snapshot at once. */
  private async join(socket: RoomSocket): Promise<void> {
    const r = socket.data.room!;
    await socket.join(r);
    if (socket.data.roomOwner) {
      await this.store.setController(r, socket.id);
      this.io.to(r).emit('room:control', socket.id);
    }
    const record = await this.store.get(r);
    if (!record) throw new PayloadError('the room no longer exists');
    const joined: RoomJoined = { room: r, memberId: socket.id, owner: socket.data.roomOwner === true, controller: record.controller, state: record.state, version: record.version };
    if (joined.owner) joined.network = this.network();
    socket.emit('room:joined', joined);
  }

  private async replayTo(socket: RoomSocket): Promise<void> {
    const r = socket.data.room!;
    const parts = await this.store.replay(r);
    for (const part of REPLAY_PARTS) {
      const json = parts[part];
      if (!json) continue;
      try {
        // The socket's own emit (its prototype's), not attach's wrapper, which would broadcast it again.
        const emit = (Object.getPrototypeOf(socket) as { emit: (this: RoomSocket, event: string, ...args: unknown[]) => boolean }).emit;
        for (const [event, ...args] of decodeReplay(json)) emit.call(socket, event, ...args);
      } catch {
        // A damaged entry: the member still has the snapshot and the next run.
      }
    }
  }

  private serial<T>(room: string, task: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(room) ?? Promise.resolve();
    const next = previous.then(task, task);
    const settled = next.catch(() => {});
    this.queues.set(room, settled);
    void settled.then(() => { if (this.queues.get(room) === settled) this.queues.delete(room); });
    return next;
  }
}

/**
 * Binary data as Buffers: the Redis adapter packs broadcasts with msgpack, which carries a
 * Uint8Array (a Buffer) as bytes but an ArrayBuffer as an empty map. Clients receive binary either way.
 */
function crossable(value: unknown, depth = 0): unknown {
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (depth > 3 || value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) return value.some((v) => v instanceof ArrayBuffer || (typeof v === 'object' && v !== null)) ? value.map((v) => crossable(v, depth + 1)) : value;
  let copy: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(value)) {
    const c = crossable(v, depth + 1);
    if (c !== v) (copy ??= { ...(value as Record<string, unknown>) })[k] = c;
  }
  return copy ?? value;
}

export type { RoomState };
