/**
 * Transcoder features in the corpus index: the index build (neurons/indexer.ts) takes a set's
 * features as one more part, read from the same corpus batches as the neurons (each layer's
 * transcoder input rebuilt from the run's hooks, inputs.ts, then the layer's whole transcoder
 * forward, forward.ts), and stores per feature what it stores per neuron (top contexts,
 * quantile examples, histogram, statistics, and W_dec[f] through the final norm's γ and the
 * unembedding as promoted and suppressed tokens) in a store of the same format beside the neuron
 * store, named and headed by the set's key, so another set never reads a stale store.
 * `storedFeatureDetails` (shared/neurons/details.ts) turns a stored record into the protocol's FeatureDetails.
 *
 * Legend: L layers, F features per layer, d model width.
 */
import type { Decoder, Tensor } from '../../shared/engine/decoder.js';
import type { IndexedUnits } from '../neurons/indexer.js';
import { cachedHash, hashTensors } from '../neurons/keys.js';
import { foldRow } from '../neurons/logit-effects.js';
import type { TranscoderRunner } from '../../shared/transcoders/forward.js';
import { transcoderHooks, transcoderInput } from '../../shared/transcoders/inputs.js';
import type { TranscoderSet } from './load.js';

/** A loaded set and its forward, as the server holds them (HostedTranscoders) or the CLI makes them. */
export interface IndexTranscoders {
  set: TranscoderSet;
  runner: TranscoderRunner;
}

/** The set's key: sha256 over its activation, input hook and every layer's tensors, cached by its
 * layer files (path, size, mtime) in the index folder. */
export function transcodersKey(set: TranscoderSet, indexDir: string, pause?: () => Promise<void>): Promise<string> {
  const tensors: Record<string, Tensor> = {};
  for (const t of set.layers) {
    for (const [name, tensor] of Object.entries({ W_enc: t.W_enc, W_dec: t.W_dec, b_enc: t.b_enc, b_dec: t.b_dec, W_skip: t.W_skip, threshold: t.threshold })) {
      if (tensor) tensors[`${t.layer}.${name}`] = tensor;
    }
  }
  const head = { activation: set.activation, inputHook: set.inputHook, layers: set.layers.map((t) => t.nFeatures) };
  return cachedHash(indexDir, set.layers.map((t) => t.path), { transcoders: head }, () => hashTensors(head, tensors, pause));
}

/** Why a set cannot be indexed (null when it can): the store holds the same F for every layer. */
export function featureIndexUnsupported(set: TranscoderSet): string | null {
  const counts = new Set(set.layers.map((t) => t.nFeatures));
  return counts.size === 1 ? null : `its layers have different feature counts (${[...counts].join(', ')}); features are explained on demand`;
}

/** The set's features as an index part, stored at `store` under the set's `key`. */
export function featureUnits(decoder: Decoder, { set, runner }: IndexTranscoders, key: string, store: string): IndexedUnits {
  const why = featureIndexUnsupported(set);
  if (why) throw new Error(`feature index: ${why}`);
  const d = decoder.spec.dModel;
  return {
    name: `features:${key}`, noun: 'features', nLayers: set.layers.length, perLayer: set.layers[0]!.nFeatures, store,
    header: { transcodersKey: key },
    hooks: [...new Set(set.layers.flatMap((t) => transcoderHooks(set.inputHook, t.layer).filter((h) => !h.endsWith('hook_mlp_out'))))],
    activations: async (cache, layer) => (await runner.run(layer, transcoderInput(set.inputHook, decoder, cache, layer))).features.data,
    foldedRow: (layer, index, out) => foldRow(decoder, set.layers[layer]!.W_dec.data.subarray(index * d, (index + 1) * d), out),
  };
}

// A stored feature record → 'feature:details' lives in shared/ (the in-browser engine answers from stores too).
export { storedFeatureDetails } from '../../shared/neurons/details.js';
