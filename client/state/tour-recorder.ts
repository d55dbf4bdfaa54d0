/**
 * Session recording and replay.
 * - The recorder keeps the event log (tour-recording-schema.ts) from the page's state changes
 *   (the view, captured as a tour beat's view, when it differs from the last one), the camera
 *   (4 times a second, when it moved), the tour captions shown, and the room's own events when
 *   the page is in a room ('room:state' and 'room:camera' from the server).
 * - The replayer loads a log and applies it through the same `applyView` as tours: pause, play,
 *   step, jump to any event (the slider). The viewer's camera stays theirs (walk around while
 *   it replays) unless "camera follows" is on.
 */
import { createStore } from 'zustand/vanilla';
import type { CameraPose, RoomState } from '../../shared/protocol.js';
import type { Backend } from './backend.js';
import { applyView, captureView, roomStateToView, tourCamera, tourRoom, type TourContext } from './tour.js';
import { describeErrors } from './tour-schema.js';
import {
  MAX_EVENTS, parseRecording, serializeRecording, stateAt, validateRecording, type RecordedEvent, type Recording,
} from './tour-recording-schema.js';
import { uiPrefs } from './ui-prefs.js';

/** An event before it is timed. */
type RecordedEventBody = RecordedEvent extends infer E ? (E extends RecordedEvent ? Omit<E, 't'> : never) : never;

export interface RecorderState {
  recording: boolean;
  startedAt: string | null;
  /** Events recorded so far (the log itself is kept outside the store: it only grows). */
  count: number;
  /** Why recording stopped by itself, if it did. */
  note: string | null;
}

export type Recorder = ReturnType<typeof createRecorder>;

const moved = (a: CameraPose, b: CameraPose) => a.position.some((v, i) => Math.abs(v - b.position[i]!) > 0.01) || a.target.some((v, i) => Math.abs(v - b.target[i]!) > 0.01);
const round = (v: [number, number, number]): [number, number, number] => v.map((x) => Math.round(x * 1000) / 1000) as [number, number, number];

export function createRecorder(context: TourContext, socket: Backend | null, cameraEveryMs = 250) {
  const store = createStore<RecorderState>()(() => ({ recording: false, startedAt: null, count: 0, note: null }));
  let events: RecordedEvent[] = [];
  let start = 0;
  let lastView = '';
  let lastCamera: CameraPose | null = null;
  let stopWatching: (() => void) | null = null;

  const push = (event: RecordedEventBody) => {
    if (!store.getState().recording) return;
    if (events.length >= MAX_EVENTS) {
      stopWatching?.();
      stopWatching = null;
      store.setState({ recording: false, note: `Recording stopped at ${MAX_EVENTS} events, the most a recording holds: save it and start another.` });
      return;
    }
    const t = Math.max(0, Math.round(performance.now() - start));
    events.push({ ...event, t } as RecordedEvent);
    store.setState({ count: events.length });
  };
  const noteView = () => {
    const view = captureView(context);
    const key = JSON.stringify(view);
    if (key === lastView) return;
    lastView = key;
    push({ kind: 'view', view, source: 'page' });
  };
  const noteCamera = (camera: CameraPose | null) => {
    if (!camera || (lastCamera && !moved(camera, lastCamera))) return;
    lastCamera = camera;
    push({ kind: 'camera', camera: { position: round(camera.position), target: round(camera.target) } });
  };

  const recorder = {
    store,
    start(): void {
      stopWatching?.();
      start = performance.now();
      lastView = '';
      lastCamera = null;
      events = [];
      store.setState({ recording: true, startedAt: new Date().toISOString(), count: 0, note: null });
      noteView();
      noteCamera(tourCamera.get?.() ?? null);
      // Coalesced: a drag across tokens records where it stopped, not every step.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const schedule = () => {
        if (timer === undefined) timer = setTimeout(() => { timer = undefined; noteView(); }, 150);
      };
      const unsubscribes = [context.services.app.subscribe(schedule), context.analysis.store.subscribe(schedule), uiPrefs.subscribe(schedule)];
      const cameraTimer = setInterval(() => noteCamera(tourCamera.get?.() ?? null), cameraEveryMs);
      let roomCamera = '';
      const onRoomCamera = (camera: CameraPose) => {
        roomCamera = JSON.stringify(camera);
        push({ kind: 'camera', camera });
      };
      // The room's state carries the presenter's camera too (a tour beat's pose).
      const onRoomState = (state: RoomState) => {
        push({ kind: 'view', view: roomStateToView(state), source: 'room' });
        if (state.camera && JSON.stringify(state.camera) !== roomCamera) onRoomCamera(state.camera);
      };
      socket?.on('room:state', onRoomState);
      socket?.on('room:camera', onRoomCamera);
      stopWatching = () => {
        unsubscribes.forEach((u) => u());
        clearInterval(cameraTimer);
        if (timer !== undefined) clearTimeout(timer);
        socket?.off('room:state', onRoomState);
        socket?.off('room:camera', onRoomCamera);
      };
    },
    stop(): void {
      if (!store.getState().recording) return;
      noteView();
      stopWatching?.();
      stopWatching = null;
      store.setState({ recording: false });
    },
    /** A tour caption as it is shown. */
    caption(text: string): void {
      push({ kind: 'caption', caption: text });
    },
    /** The log as a file's text (null when nothing was recorded). */
    toFile(model?: string): string | null {
      const { startedAt } = store.getState();
      if (!startedAt || events.length === 0) return null;
      return serializeRecording({ startedAt, events, ...(model ? { model } : {}) });
    },
    /** The events so far (a copy). */
    events(): RecordedEvent[] {
      return [...events];
    },
  };
  return recorder;
}

export interface ReplayerState {
  recording: Recording | null;
  /** The event shown (−1: before the first). */
  index: number;
  playing: boolean;
  /** Move the viewer's camera with the recorded one (off: the viewer walks freely). */
  followCamera: boolean;
  caption: string | null;
  error: string | null;
}

export type Replayer = ReturnType<typeof createReplayer>;

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createReplayer(context: TourContext, { maxGapMs = 2000 } = {}) {
  const store = createStore<ReplayerState>()(() => ({ recording: null, index: -1, playing: false, followCamera: false, caption: null, error: null }));
  let applied = '';
  let applying: Promise<unknown> = Promise.resolve();
  let playToken = 0;

  const events = () => store.getState().recording?.events ?? [];

  /** Shows the log's state at `index` (views applied one at a time, in order). */
  const show = (index: number): Promise<void> => {
    const state = stateAt(events(), index);
    store.setState({ index, caption: state.caption });
    if (store.getState().followCamera && state.camera) void tourCamera.moveTo?.(state.camera, 300);
    const run = applying.then(async () => {
      if (!state.view) return;
      const key = JSON.stringify(state.view);
      if (key === applied) return;
      applied = key;
      await applyView(context, state.view);
      tourRoom.publish?.(state.view, store.getState().followCamera ? state.camera : null);
    });
    applying = run.catch(() => {});
    return run.catch((error: Error) => {
      applied = '';
      store.setState({ error: `Event ${index + 1} could not be shown: ${error.message}` });
    });
  };

  const replayer = {
    store,
    load(input: string | unknown): boolean {
      const checked = typeof input === 'string' ? parseRecording(input) : validateRecording(input);
      if (!checked.ok) {
        store.setState({ error: describeErrors('Could not load this recording', checked.errors) });
        return false;
      }
      playToken++;
      applied = '';
      store.setState({ recording: checked.value, index: -1, playing: false, caption: null, error: null });
      return true;
    },
    close(): void {
      playToken++;
      store.setState({ recording: null, index: -1, playing: false, caption: null, error: null });
    },
    setFollowCamera(followCamera: boolean): void {
      store.setState({ followCamera });
    },
    /** Shows event `index` (clamped); stops playing. */
    jump(index: number): Promise<void> {
      playToken++;
      store.setState({ playing: false });
      const last = events().length - 1;
      return show(Math.max(-1, Math.min(last, Math.round(index))));
    },
    step(delta: 1 | -1): Promise<void> {
      return replayer.jump(store.getState().index + delta);
    },
    pause(): void {
      playToken++;
      store.setState({ playing: false });
    },
    /** Plays from the shown event at the recorded pace (long pauses shortened to `maxGapMs`). */
    async play(): Promise<void> {
      const mine = ++playToken;
      store.setState({ playing: true });
      if (store.getState().index >= events().length - 1) await show(0);
      while (mine === playToken) {
        const list = events();
        const index = store.getState().index;
        if (index >= list.length - 1) break;
        const gap = index < 0 ? 0 : list[index + 1]!.t - list[index]!.t;
        await delay(Math.min(maxGapMs, gap));
        if (mine !== playToken) return;
        await show(index + 1);
      }
      if (mine === playToken) store.setState({ playing: false });
    },
    /** Milliseconds from the start at the shown event. */
    time(): number {
      const index = store.getState().index;
      return index >= 0 ? events()[index]!.t : 0;
    },
  };
  return replayer;
}
