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
 * - The controller publishes its shared view (client/state/shared-view.ts: question, position,
 *   selection, analysis settings, circuit pins/supernodes/pruning, open panels) as 'room:state'
 *   updates, and its pointer and camera (throttled here, rate-limited by the server).
 * - Followers also take the presenter's analysis results (effects, the traced graph) from the
 *   relayed results; the graph is then pruned with the room's pins and thresholds.
 */
import { createStore } from 'zustand/vanilla';
import type { CameraPose, EffectsResult, GraphResult, PointerPose, Prediction, RoomJoined, RoomOpened, RoomState, TokenInfo } from '../../shared/protocol.js';
import type { AnalysisStore } from '../analysis/state/analysis-store.js';
import { loadGraph } from '../analysis/state/circuit.js';
import type { ActivationStore } from './activation-store.js';
import type { AppStore } from './app-store.js';
import type { Backend } from './backend.js';
import { audienceLinkFor } from './room-link.js';
import { applySharedView, captureSharedView, changedKeys, selectionFromRoom, selectionToRoom, type SharedViewStores } from './shared-view.js';

export { selectionFromRoom, selectionToRoom };

/** Pointer and camera updates the page sends at most (the server's limit is 30 per second). */
export const POINTER_HZ = 25;
export const CAMERA_HZ = 15;

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
  /** The same link on the server's other network addresses (room-link.ts). */
  audienceOthers: string[];
  /** Why phones cannot open the audience link, and what to do (null: they can). */
  audienceNote: string | null;
  error: string | null;
}

export type RoomStore = ReturnType<typeof createRoomStore>;

export function createRoomStore() {
  return createStore<RoomView>()(() => ({
    room: null, memberId: null, owner: false, controller: null, following: true, state: {}, version: 0,
    pointer: null, camera: null, audienceLink: null, audienceOthers: [], audienceNote: null, error: null,
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

export interface RoomControls {
  /** Opens a room with this page as presenter; resolves with the audience link. */
  present(origin?: string): Promise<string>;
  detach(): void;
  rejoin(): void;
  handTo(memberId: string): Promise<void>;
  takeBack(): Promise<void>;
  /** The room's members (owner or controller only). */
  members(): Promise<RoomMember[]>;
  isController(): boolean;
  /** The controller's laser and view (ignored for followers; throttled). */
  sendPointer(pointer: PointerPose | null): void;
  sendCamera(pose: CameraPose): void;
  dispose(): void;
}

export interface RoomMember {
  id: string;
  owner: boolean;
  controller: boolean;
}

/**
 * Wires a connection's socket into a room. Call right after createConnection: the auth is read
 * when the socket's connect packet goes out, after the transport opens, so setting it here takes
 * effect for the first connection and every reconnection.
 */
export function attachRoom(
  socket: Backend, app: AppStore, activations: ActivationStore, room: RoomStore, link: RoomLink | null, storage: Storage | null = null,
  /** The analysis store and panel prefs: with them the whole shared view is synced, else position and selection. */
  view?: Omit<SharedViewStores, 'app'>,
): RoomControls {
  const stores: SharedViewStores | null = view ? { app, ...view } : null;
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

  /** The refusal of a follower's own run, kept on screen while the room's run comes back. */
  let refusal: string | null = null;
  /** Shows a run of the room's presenter (followers only: the presenter's page does this itself). */
  const adoptRun = (runId: string) => {
    if (seenRuns.has(runId) || isController() || !room.getState().room) return;
    seenRuns.add(runId);
    activations.reset();
    app.setState({
      runId, runStatus: 'running', tokens: [], predictions: [], framesReady: 0, position: 0, followLive: true,
      promptLength: null, stopReason: null, error: refusal, historyVersion: app.getState().historyVersion + 1,
    });
  };
  // A follower's own run is refused by the server, but starting it cleared the scene: ask for
  // the room's last run again, and keep the refusal's words.
  const unsubscribeRefusal = app.subscribe((now, before) => {
    if (now.runStatus !== 'error' || before.runStatus === 'error' || !now.error?.startsWith('forbidden') || isController() || !room.getState().room) return;
    refusal = now.error;
    seenRuns.clear();
    socket.emit('room:replay');
    apply(room.getState().state);
    setTimeout(() => { refusal = null; }, 5000);
  });
  // Catch-all listeners run before the event's own ones, so the first frame of a new run is
  // already adopted when connection.ts decides whether to keep it.
  const any = (event: string, ...args: unknown[]) => {
    if ((event === 'run:frame' || event === 'generate:token') && typeof args[0] === 'string') adoptRun(args[0]);
  };
  socket.prependAny(any);

  const apply = (state: RoomState) => {
    if (!room.getState().following || isController()) return;
    if (stores) {
      applySharedView(stores, state);
      return;
    }
    const patch: Record<string, unknown> = {};
    if (typeof state.position === 'number') patch.position = Math.min(state.position, Math.max(0, app.getState().tokens.length - 1));
    if (state.selection !== undefined) patch.selection = selectionFromRoom(state.selection);
    if (Object.keys(patch).length > 0) app.setState({ ...patch, followLive: false });
  };

  // The room's last run and results, asked for once per join as soon as this page knows the
  // model (frames arriving before it would be dropped and the run reset by connection.ts).
  let replayAsked = false;
  const askReplay = () => {
    if (replayAsked || !room.getState().room || !app.getState().model || isController()) return;
    replayAsked = true;
    socket.emit('room:replay');
  };
  const unsubscribeModel = app.subscribe((now, before) => { if (now.model !== before.model) askReplay(); });

  socket.on('room:joined', (joined: RoomJoined) => {
    room.setState({ room: joined.room, memberId: joined.memberId, owner: joined.owner, controller: joined.controller, state: joined.state, version: joined.version, camera: joined.state.camera ?? null, error: null });
    apply(joined.state);
    // The owner's page (also after a reload) shows the audience link: the room id alone.
    const origin = typeof window !== 'undefined' ? window.location.origin : null;
    if (joined.owner && origin && !room.getState().audienceLink) {
      const { link, others, note } = audienceLinkFor(origin, `?room=${joined.room}`, joined.network);
      room.setState({ audienceLink: link, audienceOthers: others, audienceNote: note });
    }
    if (isController()) publishAll();
    replayAsked = false;
    askReplay();
  });
  socket.on('room:state', (state, version) => {
    room.setState({ state, version, camera: state.camera ?? room.getState().camera });
    apply(state);
  });
  socket.on('room:control', (controller) => {
    const was = isController();
    room.setState({ controller });
    if (isController() && !was) publishAll();
    else if (!isController() && was) apply(room.getState().state);
  });
  socket.on('room:pointer', (pointer) => room.setState({ pointer }));
  socket.on('room:camera', (camera) => room.setState({ camera }));
  // The presenter's analysis results (followers only; a detached follower still sees them).
  const applyResult = (event: string, value: unknown) => {
    if (!view || isController() || !room.getState().room) return;
    if (event === 'analysis:effects') {
      const r = value as EffectsResult;
      if (!r || !Array.isArray(r.tokens)) return;
      view.analysis.setState({
        effectsStatus: 'done',
        effects: { ...r, neuronDirect: toFloat32(r.neuronDirect), neuronTotal: toFloat32(r.neuronTotal) },
        targetSplit: { text: view.analysis.getState().target, tokens: r.targetTokens },
        distractorSplit: { text: view.analysis.getState().distractor, tokens: r.distractorTokens },
        warnings: r.warnings, error: null,
      });
    } else if (event === 'analysis:graph') {
      const r = value as GraphResult;
      if (!r || typeof r.graph !== 'string') return;
      view.analysis.setState({ graphRunId: r.runId, warnings: r.warnings, progress: null });
      void loadGraph(view.analysis, { text: r.graph }, { kind: 'traced' }).then(() => {
        view.analysis.setState({ graphStatus: 'done' });
        // Loading prunes at the defaults: the room's pins and thresholds again.
        const { circuit } = room.getState().state;
        if (circuit && stores) applySharedView(stores, { circuit });
      }, () => view.analysis.setState({ graphStatus: 'error' }));
    }
  };
  const onProgress = (runId: string, done: number, total: number) => {
    if (!view || isController() || !room.getState().room) return;
    view.analysis.setState({ graphStatus: 'running', graphRunId: runId, progress: { done, total } });
  };
  socket.on('analysis:progress', onProgress);

  socket.on('room:result', (event, value) => {
    applyResult(event, value);
    if (event !== 'run:prompt' && event !== 'generate:start') return;
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
    if (update && isController() && Object.keys(update).length > 0) {
      socket.emit('room:state', update, (r) => { if (!r.ok) room.setState({ error: `${r.error.code}: ${r.error.message}` }); });
    }
  };
  const queue = (update: RoomState) => {
    if (Object.keys(update).length === 0) return;
    if (pending === null) setTimeout(flush, 50);
    pending = { ...pending, ...update };
  };
  const captured = (): RoomState => {
    if (stores) return captureSharedView(stores);
    const s = app.getState();
    return { position: s.tokens.length > 0 ? s.position : null, selection: selectionToRoom(s.selection) };
  };
  /** Everything that differs from the room's snapshot (on opening, rejoining, taking control). */
  function publishAll() {
    queue(changedKeys(room.getState().state, captured()));
  }
  let last = captured();
  const onChange = () => {
    const now = captured();
    const update = changedKeys(last, now);
    last = now;
    if (isController()) queue(update);
  };
  const unsubscribes = [app.subscribe(onChange), ...(view ? [view.analysis.subscribe(onChange), view.prefs.subscribe(onChange)] : [])];
  const unsubscribe = () => unsubscribes.forEach((u) => u());

  // Pointer and camera: the newest pose at most POINTER_HZ / CAMERA_HZ times a second.
  const throttle = <T>(hz: number, send: (value: T) => void) => {
    let lastSent = 0;
    let waiting: { value: T } | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    return (value: T) => {
      if (!isController()) return;
      const now = performance.now();
      const gap = 1000 / hz;
      if (now - lastSent >= gap) {
        lastSent = now;
        send(value);
        return;
      }
      waiting = { value };
      timer ??= setTimeout(() => {
        timer = null;
        lastSent = performance.now();
        if (waiting && isController()) send(waiting.value);
        waiting = null;
      }, gap - (now - lastSent));
    };
  };
  // Plain emits from here (already throttled): a client-side volatile emit is dropped while the
  // transport is still writing the previous packet, so a laser sent right after a camera pose in
  // the same frame never left the page. The server relays them to the room as volatile.
  const sendPointer = throttle<PointerPose | null>(POINTER_HZ, (p) => socket.emit('room:pointer', p));
  const sendCamera = throttle<CameraPose>(CAMERA_HZ, (c) => socket.emit('room:camera', c));

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
      // A reload of this tab rejoins as the presenter (the tokens stay out of the address bar).
      storage?.setItem(ROOM_KEY, JSON.stringify({ room: opened.room, control }));
      // Phones cannot open localhost: the server's network address instead (room-link.ts).
      const { link: audienceLink, others, note } = audienceLinkFor(origin, opened.audienceQuery, opened.network);
      room.setState({ audienceLink, audienceOthers: others, audienceNote: note });
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
    async members() {
      return (await ack<{ members: RoomMember[] }>('room:members')).members;
    },
    isController,
    sendPointer,
    sendCamera,
    dispose() {
      unsubscribe();
      unsubscribeRefusal();
      unsubscribeModel();
      socket.off('analysis:progress', onProgress);
      socket.offAny(any);
      socket.off('connect_error', onRefused);
    },
  };
}

function toFloat32(value: unknown): Float32Array {
  if (value instanceof ArrayBuffer) return new Float32Array(value.slice(0));
  if (ArrayBuffer.isView(value)) return new Float32Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  return new Float32Array(0);
}
