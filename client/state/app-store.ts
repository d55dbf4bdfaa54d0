/**
 * The app's discrete state (zustand, made with createStore): connection, model, the current
 * run's tokens and predictions, which position is shown, the selected and grabbed items.
 * Per-neuron data is not here — see activation-store.ts.
 */
import { createStore } from 'zustand/vanilla';
import { useStore } from 'zustand';
import type { ModelInfo, Prediction, TokenInfo } from '../../shared/protocol.js';

export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';
export type RunStatus = 'idle' | 'running' | 'generating' | 'error';

export interface NeuronRef {
  layer: number;
  neuron: number;
}

export type Grabbed =
  | { kind: 'token'; position: number; hand: string }
  | ({ kind: 'neuron'; hand: string } & NeuronRef);

export interface AppState {
  connection: ConnectionStatus;
  /** Server-side model state ('loading' while the model loads). */
  serverState: 'unknown' | 'loading' | 'ready' | 'error';
  model: ModelInfo | null;
  runStatus: RunStatus;
  runId: string | null;
  tokens: TokenInfo[];
  predictions: Prediction[];
  /** Positions with an activation frame (0..framesReady-1). */
  framesReady: number;
  /** The position whose activations the clouds show. */
  position: number;
  /** During generation, follow the newest position. */
  followLive: boolean;
  playing: boolean;
  selection: NeuronRef | null;
  grabbed: Grabbed | null;
  /** Last error for a human, or null. */
  error: string | null;
  /** Bumped whenever the selection's activation history may have changed. */
  historyVersion: number;
  /** During and after a generation: how many of `tokens` were the prompt (the rest were
   * generated); null for a plain run (every token is prompt). */
  promptLength: number | null;
  /** Why the last generation stopped, once it has. */
  stopReason: StopReason | null;
  /** What a controller ray (or the mouse) points at now, before any trigger: aim feedback. */
  aimed: Aimed | null;
  /** Client-side pacing of streamed tokens: at least this many ms between two (0 = as they come). */
  pacingMs: number;
}

export type Aimed = ({ kind: 'neuron' } & NeuronRef) | { kind: 'token'; position: number };

export type StopReason = 'length' | 'eos' | 'cancelled' | 'context';

export const initialAppState: AppState = {
  connection: 'connecting',
  serverState: 'unknown',
  model: null,
  runStatus: 'idle',
  runId: null,
  tokens: [],
  predictions: [],
  framesReady: 0,
  position: 0,
  followLive: true,
  playing: false,
  selection: null,
  grabbed: null,
  error: null,
  historyVersion: 0,
  promptLength: null,
  stopReason: null,
  pacingMs: 0,
  aimed: null,
};

export type AppStore = ReturnType<typeof createAppStore>;

export function createAppStore() {
  return createStore<AppState>()(() => ({ ...initialAppState }));
}

export function selectNeuron(store: AppStore, neuron: NeuronRef | null): void {
  store.setState({ selection: neuron });
}

export function choosePosition(store: AppStore, position: number): void {
  const { tokens } = store.getState();
  if (tokens.length === 0) return;
  store.setState({ position: Math.max(0, Math.min(tokens.length - 1, position)), followLive: false });
}

export function grab(store: AppStore, grabbed: Grabbed): void {
  if (grabbed.kind === 'token') {
    choosePosition(store, grabbed.position);
  } else {
    store.setState({ selection: { layer: grabbed.layer, neuron: grabbed.neuron } });
  }
  store.setState({ grabbed });
}

export function release(store: AppStore): void {
  store.setState({ grabbed: null });
}

export function useAppStore<T>(store: AppStore, selector: (state: AppState) => T): T {
  return useStore(store, selector);
}

export function neuronLabel(neuron: NeuronRef): string {
  return `blocks.${neuron.layer}.mlp neuron ${neuron.neuron}`;
}

const aimKey = (aimed: Aimed | null) => (aimed === null ? '' : aimed.kind === 'token' ? `t${aimed.position}` : `n${aimed.layer}:${aimed.neuron}`);

/** Per pointer (each controller ray, the mouse): what it aimed at last, and who set the shown aim. */
const pointerAims = new Map<number, string>();
let aimOwner: number | null = null;

/**
 * Sets what is aimed at when a pointer's own target changes (pointer moves arrive every frame,
 * and a second controller resting on a neuron must not take the label back from the one that
 * moves). `aimed` null means this pointer left: the aim clears only if it was this pointer's.
 */
export function aimAt(store: AppStore, aimed: Aimed | null, pointerId = 0): void {
  const key = aimKey(aimed);
  if (pointerAims.get(pointerId) === key) return;
  pointerAims.set(pointerId, key);
  if (aimed === null) {
    if (aimOwner === pointerId) {
      aimOwner = null;
      store.setState({ aimed: null });
    }
    return;
  }
  aimOwner = pointerId;
  if (aimKey(store.getState().aimed) !== key) store.setState({ aimed });
}

/** A pointer left a neuron cloud or a token: clears its aim only if that was what it aimed at
 * (leaving one thing and entering another can arrive in either order). */
export function aimLeave(store: AppStore, pointerId: number, left: { kind: 'neuron' } | { kind: 'token'; position: number }): void {
  const key = pointerAims.get(pointerId) ?? '';
  const match = left.kind === 'neuron' ? key.startsWith('n') : key === `t${left.position}`;
  if (match) aimAt(store, null, pointerId);
}
