/**
 * The neuron explanation requests over the app's socket (see shared/protocol.ts): whenever the
 * app's selection changes (click, controller ray, squeeze-grab), 'neuron:details' for the new
 * neuron — cached per model and neuron, answers for a neuron no longer selected are cached but
 * not shown — and the corpus index status ('index:status' on connect, 'index:progress' while a
 * build runs, 'index:build' / 'index:cancel' on request). When the index becomes ready, details
 * fetched before it (with `indexed: null`) are dropped and the shown neuron is fetched again.
 * A reconnect or another model starts a new generation: the cache goes (the server may have
 * restarted with another index or retrained weights) and answers to older requests are dropped.
 */
import type { IndexStatus, NeuronDetails } from '../../../shared/neuron-index.js';
import type { AppStore, NeuronRef } from '../../state/app-store.js';
import type { Backend } from '../../state/backend.js';
import type { NeuronStore } from './neuron-store.js';

/** How long to wait for an answer before saying so (the server may be busy indexing). */
export const detailsTimeoutMs = 20_000;

export interface NeuronRequests {
  /** Fetches the shown neuron's details again (after an error). */
  retry(): void;
  /** Starts (or resumes) the corpus index build for everyone. */
  buildIndex(): Promise<void>;
  cancelIndex(): Promise<void>;
  dispose(): void;
}

type Response<T> = { ok: true; value: T } | { ok: false; error: { code: string; message: string } };

function failure(error: Error | null, response: Response<unknown> | undefined, timeoutMs: number): string | null {
  if (error) return `no answer from the server within ${Math.round(timeoutMs / 1000)} s`;
  if (!response) return 'empty answer from the server';
  if (!response.ok) return `${response.error.code}: ${response.error.message}`;
  return null;
}

export function setupNeuronDetails(store: NeuronStore, app: AppStore, socket: Backend): NeuronRequests {
  const cache = new Map<string, NeuronDetails>();
  /** Requests awaiting an answer, by neuron key: the latest request id (older answers are dropped). */
  const pending = new Map<string, number>();
  let nextRequest = 1;
  /** Bumped on reconnect and model change; callbacks of an older generation do nothing. */
  let generation = 0;
  let modelName: string | null = app.getState().model?.name ?? null;

  const keyOf = (neuron: NeuronRef) => `${modelName ?? '?'}/${neuron.layer}/${neuron.neuron}`;
  const shownKey = () => {
    const { neuron } = store.getState();
    return neuron ? keyOf(neuron) : null;
  };

  /** Asks for one neuron; `quiet` keeps what is shown on screen while the answer comes. */
  const fetchDetails = (neuron: NeuronRef, quiet = false) => {
    const key = keyOf(neuron);
    if (!quiet) store.setState({ status: 'loading', details: null, error: null });
    if (pending.has(key)) return; // its answer is on the way
    const id = nextRequest++;
    const asked = generation;
    pending.set(key, id);
    socket.timeout(detailsTimeoutMs).emit('neuron:details', { layer: neuron.layer, index: neuron.neuron }, (error, response) => {
      if (asked !== generation || pending.get(key) !== id) return; // superseded (reconnect, model change)
      pending.delete(key);
      let message = failure(error, response, detailsTimeoutMs);
      if (!message && response.ok && (response.value.layer !== neuron.layer || response.value.index !== neuron.neuron)) {
        message = `the server answered for blocks.${response.value.layer} neuron ${response.value.index}`;
      }
      if (!message && response.ok) cache.set(key, response.value);
      if (key !== shownKey()) return; // the selection moved on: cached, not shown
      if (message) {
        // A quiet refresh that failed leaves the older details on screen, and says so.
        if (store.getState().status === 'ready') store.setState({ error: message });
        else store.setState({ status: 'error', details: null, error: message });
      } else if (response.ok) {
        store.setState({ status: 'ready', details: response.value, error: null });
      }
    });
  };

  const show = (neuron: NeuronRef | null) => {
    if (!neuron) {
      store.setState({ neuron: null, status: 'idle', details: null, error: null });
      return;
    }
    // One update: the new neuron never shows with the previous one's details.
    const cached = cache.get(keyOf(neuron));
    if (cached) {
      store.setState({ neuron, status: 'ready', details: cached, error: null });
      return;
    }
    store.setState({ neuron, status: 'loading', details: null, error: null });
    if (modelName) fetchDetails(neuron, true); // loading is said already; without a model, fetched once it is known
  };

  const applyIndex = (status: IndexStatus) => {
    const previous = store.getState().index;
    store.setState({ index: status, indexError: null });
    if (status.state !== 'ready' || previous?.state === 'ready') return;
    // The index just became ready: details fetched without it are stale.
    for (const [key, details] of cache) if (!details.indexed) cache.delete(key);
    const { neuron, details } = store.getState();
    if (neuron && (!details || !details.indexed)) fetchDetails(neuron, details != null);
  };

  const indexRequest = (event: 'index:status' | 'index:build' | 'index:cancel') =>
    new Promise<void>((resolve) => {
      const asked = generation;
      socket.timeout(detailsTimeoutMs).emit(event, (error, response) => {
        resolve();
        if (asked !== generation) return; // sent before a reconnect or to another model
        const message = failure(error, response, detailsTimeoutMs);
        if (message) store.setState({ indexError: message });
        else if (response.ok) applyIndex(response.value);
      });
    });

  const onConnect = () => {
    // Answers to requests sent before a disconnect will not come, and the server may have
    // restarted with another index or other weights: nothing cached is trusted.
    generation++;
    pending.clear();
    cache.clear();
    void indexRequest('index:status');
    const { neuron, status } = store.getState();
    if (neuron && modelName) fetchDetails(neuron, status === 'ready');
  };
  socket.on('connect', onConnect);
  socket.on('index:progress', applyIndex);
  if (socket.connected) void indexRequest('index:status');

  const offApp = app.subscribe((state, previous) => {
    const name = state.model?.name ?? null;
    if (name !== modelName) {
      // Another model: other neurons, another index.
      modelName = name;
      generation++;
      cache.clear();
      pending.clear();
      store.setState({ index: null, indexError: null });
      if (name && socket.connected) void indexRequest('index:status');
      show(state.selection);
      return;
    }
    if (state.selection !== previous.selection) show(state.selection);
  });
  show(app.getState().selection);

  return {
    retry() {
      const { neuron, details } = store.getState();
      if (neuron && modelName) fetchDetails(neuron, details != null); // shown details stay while it asks
    },
    buildIndex: () => indexRequest('index:build'),
    cancelIndex: () => indexRequest('index:cancel'),
    dispose() {
      offApp();
      socket.off('connect', onConnect);
      socket.off('index:progress', applyIndex);
    },
  };
}
