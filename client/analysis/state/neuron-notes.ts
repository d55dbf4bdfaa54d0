/**
 * A few words for each model neuron the circuit shows: its imported explanation when there is
 * one, else the tokens its output promotes most (from the weights, so known before any corpus
 * index). Asked with the neuron explanation view's own request ('neuron:details'), one neuron at
 * a time so a trace never floods the server, only for traced graphs (an imported graph's units
 * are not this model's neurons), cached per model.
 */
import type { NeuronDetails } from '../../../shared/neuron-index.js';
import type { AppStore } from '../../state/app-store.js';
import type { Backend } from '../../state/backend.js';
import type { AnalysisStore } from './analysis-store.js';

/** Neurons noted per graph view at most (the view's budget is far smaller by default). */
const maxNoted = 80;

export function noteOf(details: NeuronDetails): string {
  if (details.explanation?.text) return details.explanation.text;
  const tokens = details.promoted.slice(0, 3).map((effect) => JSON.stringify(effect.token.text)).join(' ');
  return tokens ? `→ ${tokens}` : '';
}

export function setupNeuronNotes(store: AnalysisStore, app: AppStore, socket: Backend): () => void {
  let model = app.getState().model?.name ?? null;
  let busy = false;
  const wanted = () => {
    const { graph, graphIndex: index, prune, graphSource, neuronNotes } = store.getState();
    const info = app.getState().model;
    if (!graph || !index || !prune || graphSource?.kind !== 'traced' || !info) return [];
    const keys: { layer: number; index: number; key: string }[] = [];
    const seen = new Set<string>();
    for (const id of prune.keptNodeIds) {
      const node = graph.nodes[index.indexOf.get(id)!]!;
      if (node.feature_type !== 'mlp neuron') continue;
      const layer = Number(node.layer);
      if (!(layer >= 0 && layer < info.nLayers && node.feature >= 0 && node.feature < info.neuronsPerLayer)) continue;
      const key = `${layer}/${node.feature}`;
      if (seen.has(key) || key in neuronNotes) continue;
      seen.add(key);
      keys.push({ layer, index: node.feature, key });
      if (keys.length >= maxNoted) break;
    }
    return keys;
  };
  const pump = () => {
    if (busy || !socket.connected) return;
    const next = wanted()[0];
    if (!next) return;
    busy = true;
    const asked = model;
    socket.timeout(20_000).emit('neuron:details', { layer: next.layer, index: next.index }, (error, response) => {
      busy = false;
      if (asked !== model) return pump();
      // A failure notes nothing in words but stops asking for this neuron.
      const note = !error && response?.ok ? noteOf(response.value) : '';
      store.setState({ neuronNotes: { ...store.getState().neuronNotes, [next.key]: note } });
      pump();
    });
  };
  const offStore = store.subscribe((state, previous) => {
    if (state.prune !== previous.prune) pump();
  });
  const offApp = app.subscribe((state) => {
    const name = state.model?.name ?? null;
    if (name !== model) {
      model = name;
      store.setState({ neuronNotes: {} });
    }
  });
  return () => {
    offStore();
    offApp();
  };
}
