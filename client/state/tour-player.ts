/**
 * The tour being presented or edited, and stepping through it. Playing a beat is three short
 * steps, as in bbycroft's walkthrough: its caption shows, then (after a pause) the camera moves
 * smoothly to the beat's pose, then the beat's view is applied (prompt run, selection, question)
 * through `applyView` (tour.ts), and `tourRoom.publish` tells the room. Pressing next again
 * mid-beat skips the rest of the earlier beat; applies run one at a time, in order.
 * Editing: record a beat from the current view, reorder, remove, edit captions and the title;
 * save as a file's text, load from one (validated: errors in words).
 * Keys (setupTourKeys): → and Page Down next, ← and Page Up previous, while a tour is loaded.
 */
import { createStore } from 'zustand/vanilla';
import { applyView, captureBeat, tourCamera, tourRoom, type TourContext } from './tour.js';
import { describeErrors, parseTour, serializeTour, validateTour, type Tour, type TourBeat } from './tour-schema.js';

export type BeatPhase = 'idle' | 'caption' | 'moving' | 'applying' | 'ready' | 'error';

export interface TourPlayerState {
  /** The tour (its beats are edited in place: each edit makes a new array). */
  tour: Omit<Tour, 'schemaVersion' | 'kind'> | null;
  /** The beat shown (−1 before the first). */
  index: number;
  phase: BeatPhase;
  /** The caption on screen (null: none). */
  caption: string | null;
  error: string | null;
}

export interface TourTimings {
  /** Caption alone on screen before the camera moves. */
  captionMs: number;
  /** The camera's move. */
  moveMs: number;
}

export type TourPlayer = ReturnType<typeof createTourPlayer>;

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createTourPlayer(context: TourContext, timings: TourTimings = { captionMs: 600, moveMs: 900 }) {
  const store = createStore<TourPlayerState>()(() => ({ tour: null, index: -1, phase: 'idle', caption: null, error: null }));
  let generation = 0;
  let applying: Promise<unknown> = Promise.resolve();
  const beatListeners = new Set<(beat: TourBeat) => void>();

  const setBeats = (beats: TourBeat[]) => {
    const { tour } = store.getState();
    store.setState({ tour: { ...(tour ?? { title: 'Untitled tour' }), beats } });
  };
  const beats = () => store.getState().tour?.beats ?? [];

  const player = {
    store,
    timings,
    /** Called as each beat starts (the recorder notes its caption). */
    onBeat(listener: (beat: TourBeat) => void): () => void {
      beatListeners.add(listener);
      return () => beatListeners.delete(listener);
    },

    /** Loads a tour from a file's text or a parsed object; false (with `error` set) when invalid. */
    load(input: string | unknown, what = 'tour'): boolean {
      const checked = typeof input === 'string' ? parseTour(input) : validateTour(input);
      if (!checked.ok) {
        store.setState({ error: describeErrors(`Could not load this ${what}`, checked.errors) });
        return false;
      }
      const { schemaVersion: _v, kind: _k, ...tour } = checked.value;
      generation++;
      store.setState({ tour, index: -1, phase: 'idle', caption: null, error: null });
      return true;
    },
    newTour(title = 'Untitled tour'): void {
      generation++;
      store.setState({ tour: { title, beats: [] }, index: -1, phase: 'idle', caption: null, error: null });
    },
    close(): void {
      generation++;
      store.setState({ tour: null, index: -1, phase: 'idle', caption: null, error: null });
    },
    setTitle(title: string): void {
      const { tour } = store.getState();
      if (tour) store.setState({ tour: { ...tour, title } });
    },
    /** Adds a beat from what the page shows now, after the current beat (or at the end). */
    record(caption: string): TourBeat {
      if (!store.getState().tour) player.newTour();
      const model = context.services.app.getState().model?.name;
      const tour = store.getState().tour!;
      if (!tour.model && model) store.setState({ tour: { ...tour, model } });
      const beat = captureBeat(context, caption.trim() || `Beat ${beats().length + 1}`);
      const at = store.getState().index >= 0 ? store.getState().index + 1 : beats().length;
      const list = [...beats()];
      list.splice(at, 0, beat);
      setBeats(list);
      store.setState({ index: at, caption: null, phase: 'ready' });
      return beat;
    },
    setCaption(index: number, caption: string): void {
      setBeats(beats().map((b, i) => (i === index ? { ...b, caption } : b)));
    },
    /** Moves beat `index` by `delta` places (the shown beat keeps being the shown one). */
    move(index: number, delta: number): void {
      const to = index + delta;
      const list = [...beats()];
      if (index < 0 || index >= list.length || to < 0 || to >= list.length) return;
      const [beat] = list.splice(index, 1);
      list.splice(to, 0, beat!);
      setBeats(list);
      const shown = store.getState().index;
      if (shown === index) store.setState({ index: to });
      else if (shown === to) store.setState({ index });
    },
    remove(index: number): void {
      const list = beats().filter((_, i) => i !== index);
      setBeats(list);
      const shown = store.getState().index;
      if (shown >= list.length || shown === index) store.setState({ index: Math.min(shown, list.length - 1), caption: null });
      else if (shown > index) store.setState({ index: shown - 1 });
    },
    /** The tour as a file's text; null (with `error` set) when it is not valid yet (no beats, no title). */
    save(): string | null {
      const { tour } = store.getState();
      if (!tour) return null;
      const text = serializeTour(tour);
      const checked = parseTour(text);
      if (!checked.ok) {
        store.setState({ error: describeErrors('This tour cannot be saved yet', checked.errors) });
        return null;
      }
      store.setState({ error: null });
      return text;
    },

    /** Plays beat `index`: caption, pause, camera move, then its view. Resolves when applied. */
    async goTo(index: number): Promise<void> {
      const beat = beats()[index];
      if (!beat) return;
      const mine = ++generation;
      store.setState({ index, caption: beat.caption, phase: 'caption', error: null });
      beatListeners.forEach((listener) => listener(beat));
      await delay(timings.captionMs);
      if (mine !== generation) return;
      if (beat.camera && tourCamera.moveTo) {
        store.setState({ phase: 'moving' });
        await tourCamera.moveTo(beat.camera, timings.moveMs);
        if (mine !== generation) return;
      }
      store.setState({ phase: 'applying' });
      const run = applying.then(async () => {
        if (mine !== generation) return;
        await applyView(context, beat.view);
        tourRoom.publish?.(beat.view, beat.camera ?? null);
      });
      applying = run.catch(() => {});
      try {
        await run;
        if (mine === generation) store.setState({ phase: 'ready' });
      } catch (error) {
        if (mine === generation) store.setState({ phase: 'error', error: `Beat ${index + 1} could not be shown: ${(error as Error).message}` });
      }
    },
    next(): Promise<void> {
      const { index } = store.getState();
      return index + 1 < beats().length ? player.goTo(index + 1) : Promise.resolve();
    },
    previous(): Promise<void> {
      const { index } = store.getState();
      return index > 0 ? player.goTo(index - 1) : Promise.resolve();
    },
  };
  return player;
}

/** Which way a key steps a tour (presentation clickers send Page Up/Down), or null. */
export function tourKeyStep(event: Pick<KeyboardEvent, 'key' | 'ctrlKey' | 'metaKey' | 'altKey'>): 1 | -1 | null {
  if (event.ctrlKey || event.metaKey || event.altKey) return null;
  if (event.key === 'ArrowRight' || event.key === 'PageDown') return 1;
  if (event.key === 'ArrowLeft' || event.key === 'PageUp') return -1;
  return null;
}

/**
 * Next/previous from the keyboard while a tour is loaded (not while typing). Listens in the
 * capture phase and stops the key there, so the arrows step the tour instead of sliding the
 * camera (free-fly.ts); without a tour the arrows fly as before. Returns a cleanup.
 */
export function setupTourKeys(player: TourPlayer, target: Window = window): () => void {
  const onKey = (event: KeyboardEvent) => {
    const element = event.target as HTMLElement | null;
    const typing = !!element && (element.tagName === 'INPUT' || element.tagName === 'TEXTAREA' || element.tagName === 'SELECT' || element.isContentEditable);
    const step = tourKeyStep(event);
    if (typing || step === null || (player.store.getState().tour?.beats.length ?? 0) === 0) return;
    event.preventDefault();
    event.stopPropagation();
    void (step > 0 ? player.next() : player.previous());
  };
  target.addEventListener('keydown', onKey, { capture: true });
  return () => target.removeEventListener('keydown', onKey, { capture: true });
}
