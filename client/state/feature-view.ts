/**
 * The live feature view: whether each layer shows a transcoder-feature cloud beside its neuron
 * cloud, instead of it, or not at all (the default: the server then sends neuron-only frames).
 * While a cloud is shown this client is subscribed to the server's feature stream
 * ('features:subscribe'), again after every reconnect; turning the clouds on re-runs the prompt
 * on screen so its features arrive at once.
 */
import { createStore } from 'zustand/vanilla';
import { useStore } from 'zustand';
import type { AppServices } from './app-context.js';
import type { FeatureDetails } from '../../shared/protocol.js';
import { plainError } from './plain-errors.js';
import { uiPrefs } from './ui-prefs.js';

export type FeatureCloudMode = 'off' | 'beside' | 'instead';

export interface FeatureViewState {
  cloud: FeatureCloudMode;
  /** The server confirmed the subscription (frames from now on carry features). */
  subscribed: boolean;
  error: string | null;
  /** The feature being explained ('feature:details'), its answer, or why there is none. */
  explained: { layer: number; index: number } | null;
  details: FeatureDetails | null;
  detailsError: string | null;
}

export type FeatureViewStore = ReturnType<typeof createFeatureViewStore>;

export function createFeatureViewStore() {
  return createStore<FeatureViewState>()(() => ({ cloud: 'off', subscribed: false, error: null, explained: null, details: null, detailsError: null }));
}

const stores = new WeakMap<AppServices, FeatureViewStore>();

/** The app's one feature view store. */
export function featureViewFor(services: AppServices): FeatureViewStore {
  let store = stores.get(services);
  if (!store) {
    store = createFeatureViewStore();
    stores.set(services, store);
  }
  return store;
}

export function useFeatureView<T>(store: FeatureViewStore, selector: (state: FeatureViewState) => T): T {
  return useStore(store, selector);
}

/** Asks the server to explain one feature (a corpus scan); a newer request replaces an older one. */
export function explainFeature(services: AppServices, layer: number, index: number): void {
  const view = featureViewFor(services);
  const request = { layer, index };
  view.setState({ explained: request, details: null, detailsError: null });
  // The answer shows in the analysis panels' Features tab.
  uiPrefs.setState({ analysisTab: 'features' });
  services.connection.backend.emit('feature:details', request, (response) => {
    if (view.getState().explained !== request) return; // a newer feature was asked for
    if (response.ok) view.setState({ details: response.value });
    else view.setState({ detailsError: plainError(`${response.error.code}: ${response.error.message}`) });
  });
}

/**
 * Keeps the server subscription in step with the view; `rerun` runs the shown prompt again (so
 * its frames come back with features). Returns the teardown.
 */
export function setupFeatureStream(services: AppServices, rerun: () => void): () => void {
  const view = featureViewFor(services);
  const { backend: socket } = services.connection;
  const sync = (rerunAfter: boolean) => {
    const want = view.getState().cloud !== 'off';
    const model = services.app.getState().model;
    if (!socket.connected || !model) return;
    if (want && !model.transcoders) {
      view.setState({ subscribed: false, error: 'this server has no transcoders loaded' });
      return;
    }
    if (!want && !view.getState().subscribed) return;
    socket.emit('features:subscribe', want, (response) => {
      if (!response.ok) {
        view.setState({ subscribed: false, error: response.error.message });
        return;
      }
      view.setState({ subscribed: response.value.subscribed, error: null });
      if (want && rerunAfter) rerun();
    });
  };
  const unsubscribeView = view.subscribe((state, previous) => {
    if ((state.cloud === 'off') !== (previous.cloud === 'off')) sync(true);
  });
  // A reconnect is a new server session: subscribe again once the model info is back.
  const unsubscribeApp = services.app.subscribe((state, previous) => {
    if (state.model && state.model !== previous.model) sync(false);
  });
  const onDisconnect = () => view.setState({ subscribed: false });
  socket.on('disconnect', onDisconnect);
  return () => {
    unsubscribeView();
    unsubscribeApp();
    socket.off('disconnect', onDisconnect);
  };
}
