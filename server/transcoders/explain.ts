/**
 * A transcoder feature explained on demand (no feature index is stored): the contexts of the
 * neuron index's corpus (neurons/contexts.ts, the first `budget` tokens) are run through the
 * model and the feature's layer transcoder in batches, one batch per scheduler step, keeping the
 * contexts where the feature fires most, its firing share, largest and mean activation; and what
 * it writes per unit of activation, W_dec[f] read through ln_final's γ (centred for LayerNorm)
 * and the unembedding, as the neuron index does for a neuron's W_out row (logit-effects.ts).
 *
 * Legend: B contexts per batch, C positions per context, F features of the layer, d width, V vocabulary.
 */
import type { Decoder, LoadedModel } from '../engine/decoder.js';
import type { ModelRunner } from '../engine/runner.js';
import type { Steps } from '../analysis/steps.js';
import { extremes } from '../neurons/logit-effects.js';
import type { CorpusContexts } from '../neurons/contexts.js';
import type { FeatureDetails } from '../../shared/protocol.js';
import type { TranscoderRunner } from './forward.js';
import { transcoderHooks, transcoderInput } from './inputs.js';
import type { TranscoderSet } from './load.js';

export interface ExplainOptions {
  /** Contexts per batch (default 16). */
  batch?: number;
  /** Contexts kept as examples (default 8). */
  examples?: number;
  /** Tokens shown around an example's maximum (default 12 before, 4 after). */
  before?: number;
  after?: number;
}

/** What feature `index` of `layer` writes, per unit of activation, into each token's logit. */
export function featureLogitEffects(decoder: Decoder, set: TranscoderSet, layer: number, index: number, K = 10): ReturnType<typeof extremes> {
  const { dModel: d, vocabSize: V, norm } = decoder.spec;
  const W_U = decoder.weights['unembed.W_U']!.data; // [d, V]
  const gamma = decoder.weights['ln_final.w']!.data;
  const row = set.layers[layer]!.W_dec.data.subarray(index * d, (index + 1) * d);
  let mean = 0;
  if (norm.kind === 'layernorm') mean = row.reduce((a, b) => a + b, 0) / d;
  const effect = new Float64Array(V);
  for (let j = 0; j < d; j++) {
    const w = (row[j]! - mean) * gamma[j]!;
    for (let v = 0; v < V; v++) effect[v]! += w * W_U[j * V + v]!;
  }
  return extremes(effect, V, K);
}

export async function* featureDetailsSteps(
  model: LoadedModel, runner: ModelRunner, set: TranscoderSet, transcoders: TranscoderRunner,
  contexts: CorpusContexts, layer: number, index: number, options: ExplainOptions = {},
): Steps<FeatureDetails> {
  const { decoder, tokenizer } = model;
  const C = contexts.contextLength;
  const B = Math.max(1, options.batch ?? 16);
  const keep = options.examples ?? 8;
  const before = options.before ?? 12;
  const after = options.after ?? 4;
  const F = set.layers[layer]!.nFeatures;
  const hooks = transcoderHooks(set.inputHook, layer);
  /** Best contexts: [max activation, context, position]. */
  let best: [number, number, number][] = [];
  let scanned = 0;
  let active = 0;
  let sum = 0;
  let max = 0;
  const total = Math.ceil(contexts.count / B);
  for (let b = 0; b < total; b++) {
    const first = b * B;
    const n = Math.min(B, contexts.count - first);
    const batch = Array.from({ length: n }, (_, c) => Array.from(contexts.tokens.subarray((first + c) * C, (first + c + 1) * C)));
    const { cache } = await runner.run(batch, { hooks, positions: 'last' });
    const { features } = await transcoders.run(layer, transcoderInput(set.inputHook, decoder, cache, layer));
    for (let c = 0; c < n; c++) {
      let top = 0;
      let at = -1;
      for (let p = contexts.scoredStart; p < C; p++) {
        const a = features.data[(c * C + p) * F + index]!;
        scanned++;
        if (a > 0) {
          active++;
          sum += a;
          if (a > top) {
            top = a;
            at = p;
          }
        }
      }
      max = Math.max(max, top);
      if (at >= 0 && (best.length < keep || top > best[best.length - 1]![0])) {
        best.push([top, first + c, at]);
        best.sort((x, y) => y[0] - x[0]);
        best = best.slice(0, keep);
      }
    }
    // Activations around each kept example are read again below, from a run of that context only.
    yield { phase: 'scan', done: b + 1, total: total + 1 };
  }
  const examples: FeatureDetails['examples'] = [];
  for (const [top, context, at] of best) {
    const ids = Array.from(contexts.tokens.subarray(context * C, (context + 1) * C));
    const { cache } = await runner.run([ids], { hooks, positions: 'last' });
    const { features } = await transcoders.run(layer, transcoderInput(set.inputHook, decoder, cache, layer));
    const from = Math.max(contexts.scoredStart, at - before);
    const to = Math.min(C, at + after + 1);
    examples.push({
      tokens: ids.slice(from, to).map((id) => ({ id, text: tokenizer.tokenString(id) })),
      activations: Array.from({ length: to - from }, (_, k) => features.data[(from + k) * F + index]!),
      max: top,
      at: at - from,
    });
  }
  const effects = featureLogitEffects(decoder, set, layer, index);
  const token = (id: number) => ({ id, text: tokenizer.tokenString(id) });
  return {
    layer, index, hook: `blocks.${layer}.transcoder`,
    promoted: effects.promoted.map((e) => ({ token: token(e.token), value: e.value })),
    suppressed: effects.suppressed.map((e) => ({ token: token(e.token), value: e.value })),
    corpus: contexts.name, tokensScanned: scanned, activeShare: scanned > 0 ? active / scanned : 0,
    maxActivation: max, meanActive: active > 0 ? sum / active : 0, examples,
  };
}
