/**
 * The neuron explanation view's state (zustand, createStore): the details of the neuron the app
 * has selected (loading, ready or failed) and the model's corpus index status (absent, building
 * with progress, ready...). One store per app (see neuron-services.ts), read by the desktop
 * panel and the in-scene VR panel alike. Discrete data only: it changes when a request answers
 * or a progress event arrives, never per frame.
 */
import { createStore } from 'zustand/vanilla';
import { useStore } from 'zustand';
import type { IndexStatus, NeuronDetails } from '../../../shared/neuron-index.js';
import type { NeuronRef } from '../../state/app-store.js';

export type DetailsStatus = 'idle' | 'loading' | 'ready' | 'error';

export interface NeuronViewState {
  /** The neuron the view is about (the app's selection), or null. */
  neuron: NeuronRef | null;
  status: DetailsStatus;
  /** The details of `neuron` once they arrive (null while loading or after an error). */
  details: NeuronDetails | null;
  /** Why the details could not be fetched, for a human. */
  error: string | null;
  /** The corpus index as the server last reported it; null until it has. */
  index: IndexStatus | null;
  /** Why the index status could not be read or a build could not start. */
  indexError: string | null;
}

export const initialNeuronViewState: NeuronViewState = {
  neuron: null,
  status: 'idle',
  details: null,
  error: null,
  index: null,
  indexError: null,
};

export type NeuronStore = ReturnType<typeof createNeuronStore>;

export function createNeuronStore() {
  return createStore<NeuronViewState>()(() => ({ ...initialNeuronViewState }));
}

export function useNeuronStore<T>(store: NeuronStore, selector: (state: NeuronViewState) => T): T {
  return useStore(store, selector);
}
