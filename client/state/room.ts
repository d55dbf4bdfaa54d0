/**
 * Follow mode: the page's side of a presentation room (server/rooms). The room link's `?room=`
 * (and the presenter's `?control=`) go into the socket's auth, so every (re)connection rejoins
 * and receives the room's snapshot at once.
 *
 * - Followers see the presenter's runs: a run id they have not seen (its first frame, or the
 *   relayed result) becomes the shown run, and the relayed result fills in tokens and
 *   predictions, exactly as the presenter's own acknowledgement does in connection.ts.
 * - While following, the shared state (position, selection) is applied to the app store; a
 *   detached follower keeps its own position and selection but still sees the shared run;
 *   `rejoin()` applies the newest snapshot again.
 * - The controller publishes its position and selection as 'room:state' updates.
 */
import { createStore } from 'zustand/vanilla';
import type { CameraPose, PointerPose, Prediction, RoomJoined, RoomOpened, RoomState, TokenInfo } from '../../shared/protocol.js';
import type { ActivationStore } from './activation-store.js';
import type { AppStore, NeuronRef } from './app-store.js';
import type { CircuitsSocket } from './connection.js';

const ROOM_KEY = 'circuits-xr-room';

export interface RoomLink {
  room: string;
  /** The control token (presenter link only). */
  control?: string;
}

export interface RoomView {
  room: string | null;
  memberId: string | null;
  owner: boolean;
  controller: string | null;
  /** Applying the presenter's state (false: detached, exploring on one's own). */
  following: boolean;
  state: RoomState;
  version: number;
  pointer: PointerPose | null;
  camera: CameraPose | null;
  /** The audience link once this page opened a room (for the Present panel and its QR code). */
  audienceLink: string | null;
  error: string | null;
}

export type RoomStore = ReturnType<typeof createRoomStore>;

export function createRoomStore() {
  return createStore<RoomView>()(() => ({
    room: null, memberId: null, owner: false, controller: null, following: true, state: {}, version: 0,
    pointer: null, camera: null, audienceLink: null, error: null,
  }));
}

/** The room link from the page's URL (the control token then removed from the address bar,
 * as the access token is) or from this tab's storage. */
export function takeRoomLink(location: Location, history: History, storage: Storage | null): RoomLink | null {
  const url = new URL(location.href);
  const room = url.searchParams.get('room');
  if (room) {
    const control = url.searchParams.get('control') ?? undefined;
    const link: RoomLink = control ? { room, control } : { room };
    storage?.setItem(ROOM_KEY, JSON.stringify(link));
    if (control) {
      url.searchParams.delete('control');
      history.replaceState(history.state, '', `${url.pathname}${url.search}${url.hash}`);
    }
    return link;
  }
  try {
    const kept = JSON.parse(storage?.getItem(ROOM_KEY) ?? 'null') as RoomLink | null;
    return kept && typeof kept.room === 'string' ? kept : null;
  } catch {
    return null;
  }
}

/** A selection as the room carries it, and back (only neurons are understood so far). */
export function selectionToRoom(selection: NeuronRef | null): RoomState['selection'] {
  return selection ? { kind: 'neuron', layer: selection.layer, index: selection.neuron } : null;
}
export function selectionFromRoom(selection: RoomState['selection']): NeuronRef | null {
  if (!selection || selection.kind !== 'neuron') return null;
  const { layer, index } = selection as { layer?: unknown; index?: unknown };
  return Number.isInteger(layer) && Number.isInteger(index) ? { layer: layer as number, neuron: index as number } : null;
}

export interface RoomControls {
  /** Opens a room with this page as presenter; resolves with the audience link. */
  present(origin?: string): Promise<string>;
  detach(): void;
  rejoin(): void;
  handTo(memberId: string): Promise<void>;
  takeBack(): Promise<void>;
  isController(): boolean;
  dispose(): void;
}

/**
 * Wires a connection's socket into a room. Call right after createConnection: the auth is read
 * when the socket's connect packet goes out, after the transport opens, so setting it here takes
 * effect for the first connection and every reconnection.
 */
export function attachRoom(socket: CircuitsSocket, app: AppStore, activations: ActivationStore, room: RoomStore, link: RoomLink | null, storage: Storage | null = null): RoomControls {
  if (link) socket.auth = { ...(socket.auth as Record<string, unknown>), ...link };
  // A room that is gone (server restarted) or a stale control token: say so, forget the link and
  // connect without it, rather than leaving the tab refused at every reload.
  const onRefused = (error: Error & { data?: { code?: string } }) => {
    const auth = socket.auth as Record<string, unknown>;
    if (!auth.room || !/room|control token/.test(error.message)) return;
    const { room: _r, control: _c, ...rest } = auth;
    socket.auth = rest;
    storage?.removeItem(ROOM_KEY);
    room.setState({ room: null, error: error.message });
    socket.connect();
  };
  socket.on('connect_error', onRefused);
  const seenRuns = new Set<string>();
  const isController = () => {
    const { memberId, controller } = room.getState();
    return memberId !== null && memberId === controller;
  };

  /** Shows a run of the room's presenter (followers only: the presenter's page does this itself). */
  const adoptRun = (runId: string) => {
    if (seenRuns.has(runId) || isController() || !room.getState().room) return;
    seenRuns.add(runId);
    activations.reset();
    app.setState({
      runId, runStatus: 'running', tokens: [], predictions: [], framesReady: 0, position: 0, followLive: true,
      promptLength: null, stopReason: null, error: null, historyVersion: app.getState().historyVersion + 1,
    });
  };
  // Catch-all listeners run before the event's own ones, so the first frame of a new run is
  // already adopted when connection.ts decides whether to keep it.
  const any = (event: string, ...args: unknown[]) => {
    if ((event === 'run:frame' || event === 'generate:token') && typeof args[0] === 'string') adoptRun(args[0]);
  };
  socket.prependAny(any);

  const apply = (state: RoomState) => {
    if (!room.getState().following || isController()) return;
    const patch: Record<string, unknown> = {};
    if (typeof state.position === 'number') patch.position = Math.min(state.position, Math.max(0, app.getState().tokens.length - 1));
    if (state.selection !== undefined) patch.selection = selectionFromRoom(state.selection);
    if (Object.keys(patch).length > 0) app.setState({ ...patch, followLive: false });
  };

  socket.on('room:joined', (joined: RoomJoined) => {
    room.setState({ room: joined.room, memberId: joined.memberId, owner: joined.owner, controller: joined.controller, state: joined.state, version: joined.version, camera: joined.state.camera ?? null, error: null });
    apply(joined.state);
  });
  socket.on('room:state', (state, version) => {
    room.setState({ state, version, camera: state.camera ?? room.getState().camera });
    apply(state);
  });
  socket.on('room:control', (controller) => room.setState({ controller }));
  socket.on('room:pointer', (pointer) => room.setState({ pointer }));
  socket.on('room:camera', (camera) => room.setState({ camera }));
  socket.on('room:result', (event, value) => {
    const v = value as { runId?: string; tokens?: TokenInfo[]; predictions?: Prediction[] };
    if (typeof v?.runId !== 'string' || !Array.isArray(v.tokens)) return;
    adoptRun(v.runId);
    if (app.getState().runId !== v.runId) return;
    const state = app.getState();
    if (event === 'run:prompt') {
      app.setState({ tokens: v.tokens, predictions: v.predictions ?? [], runStatus: 'idle', position: state.followLive ? Math.max(0, v.tokens.length - 1) : state.position });
    } else if (event === 'generate:start') {
      app.setState({ tokens: [...v.tokens, ...state.tokens], runStatus: 'generating', promptLength: v.tokens.length });
    }
    if (room.getState().following) apply(room.getState().state);
  });

  // The controller publishes what it shows (coalesced: a drag across tokens sends the last one).
  let pending: RoomState | null = null;
  const flush = () => {
    const update = pending;
    pending = null;
    if (update && isController()) socket.emit('room:state', update, (r) => { if (!r.ok) room.setState({ error: `${r.error.code}: ${r.error.message}` }); });
  };
  const unsubscribe = app.subscribe((now, before) => {
    if (!isController()) return;
    const update: RoomState = {};
    if (now.position !== before.position) update.position = now.position;
    if (now.selection !== before.selection) update.selection = selectionToRoom(now.selection);
    if (Object.keys(update).length === 0) return;
    if (pending === null) setTimeout(flush, 50);
    pending = { ...pending, ...update };
  });

  const ack = <T>(event: string, ...args: unknown[]) => new Promise<T>((resolve, reject) => {
    (socket.emit as (...a: unknown[]) => void)(event, ...args, (r: { ok: true; value: T } | { ok: false; error: { code: string; message: string } }) => {
      if (r.ok) resolve(r.value);
      else {
        room.setState({ error: `${r.error.code}: ${r.error.message}` });
        reject(new Error(`${r.error.code}: ${r.error.message}`));
      }
    });
  });

  return {
    async present(origin = window.location.origin) {
      const opened = await ack<RoomOpened>('room:open');
      // Reconnections rejoin as the owner.
      const control = new URLSearchParams(opened.presenterQuery).get('control') ?? undefined;
      socket.auth = { ...(socket.auth as Record<string, unknown>), room: opened.room, control };
      const audienceLink = `${origin}/${opened.audienceQuery}`;
      room.setState({ audienceLink });
      return audienceLink;
    },
    detach() {
      room.setState({ following: false });
    },
    rejoin() {
      room.setState({ following: true });
      apply(room.getState().state);
    },
    async handTo(memberId) {
      await ack('room:hand', memberId);
    },
    async takeBack() {
      await ack('room:take');
    },
    isController,
    dispose() {
      unsubscribe();
      socket.offAny(any);
      socket.off('connect_error', onRefused);
    },
  };
}
