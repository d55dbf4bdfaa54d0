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
import type { Decoder, LoadedModel, Tensor } from '../../shared/engine/decoder.js';
import { ModelRunner } from '../../shared/engine/runner.js';
import type { Steps } from '../../shared/analysis/steps.js';
import { foldedEffects, foldRow, type TokenEffects } from '../neurons/logit-effects.js';
import { binaryHistogram } from '../neurons/details.js';
import { QUANTILES } from '../neurons/indexer.js';
import type { CorpusContexts } from '../neurons/contexts.js';
import type { FeatureDetails } from '../../shared/protocol.js';
import type { TranscoderRunner } from '../../shared/transcoders/forward.js';
import { transcoderHooks, transcoderInput } from '../../shared/transcoders/inputs.js';
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

/** What feature `index` of `layer` writes, per unit of activation, into each token's logit:
 * fold(W_dec[f]) through the unembedding (logit-effects.ts, as for a neuron's W_out row). */
export function featureLogitEffects(decoder: Decoder, set: TranscoderSet, layer: number, index: number, K = 10): TokenEffects {
  const d = decoder.spec.dModel;
  const row = set.layers[layer]!.W_dec.data.subarray(index * d, (index + 1) * d);
  return foldedEffects(decoder, decoder.spec.vocabSize, foldRow(decoder, row), K);
}

/**
 * Feature `index` of `layer` at each of the N rows of x [N, d]: for ReLU and JumpReLU it depends
 * on its own pre-activation only, z = x · W_enc[f] + b_enc[f], so it is computed here alone (a dot
 * product per row instead of the whole layer's forward); TopK needs every feature, so that runs
 * the layer's transcoder.
 */
async function featureColumn(set: TranscoderSet, transcoders: TranscoderRunner, layer: number, index: number, x: Tensor): Promise<Float32Array> {
  const t = set.layers[layer]!;
  const [N, d] = x.shape as [number, number];
  const out = new Float32Array(N);
  if (set.activation.kind === 'topk') {
    const { features } = await transcoders.run(layer, x);
    for (let n = 0; n < N; n++) out[n] = features.data[n * t.nFeatures + index]!;
    return out;
  }
  const w = t.W_enc.data.subarray(index * d, (index + 1) * d);
  const b = t.b_enc.data[index]!;
  const theta = set.activation.kind === 'jumprelu' ? t.threshold!.data[index]! : 0;
  for (let n = 0; n < N; n++) {
    let z = b;
    for (let j = 0; j < d; j++) z += x.data[n * d + j]! * w[j]!;
    out[n] = z > theta ? z : 0; // JumpReLU z·[z > θ] as the forward graph computes it; ReLU: θ = 0
  }
  return out;
}

/** Per model and layer, a runner compiled for the transcoder's input hooks only (no later
 * layers, no unembedding: ONNX Runtime computes every node of a graph, so the scan would
 * otherwise pay for the logits of every position). Made on first use, then kept. */
const scanRunners = new WeakMap<Decoder, Map<string, Promise<ModelRunner>>>();

function scanRunner(decoder: Decoder, hooks: string[]): Promise<ModelRunner> {
  let byHooks = scanRunners.get(decoder);
  if (!byHooks) scanRunners.set(decoder, (byHooks = new Map()));
  const key = hooks.join(',');
  let runner = byHooks.get(key);
  if (!runner) {
    runner = ModelRunner.create(decoder, { outputs: hooks, onNotice: () => {} });
    runner.catch(() => byHooks.delete(key));
    byHooks.set(key, runner);
  }
  return runner;
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
  const hooks = transcoderHooks(set.inputHook, layer).filter((h) => !h.endsWith('hook_mlp_out'));
  const scan = await scanRunner(decoder, hooks);
  /** Best contexts: [max activation, context, position]. */
  let best: [number, number, number][] = [];
  let scanned = 0;
  let active = 0;
  let sum = 0;
  let max = 0;
  const S = C - contexts.scoredStart;
  /** The activation at every scored token, context by context (histogram and quantiles). */
  const values = new Float32Array(contexts.count * S);
  const total = Math.ceil(contexts.count / B);
  for (let b = 0; b < total; b++) {
    const first = b * B;
    const n = Math.min(B, contexts.count - first);
    const batch = Array.from({ length: n }, (_, c) => Array.from(contexts.tokens.subarray((first + c) * C, (first + c + 1) * C)));
    const cache = await scan.runHooks(batch, hooks);
    const column = await featureColumn(set, transcoders, layer, index, transcoderInput(set.inputHook, decoder, cache, layer));
    for (let c = 0; c < n; c++) {
      let top = 0;
      let at = -1;
      for (let p = contexts.scoredStart; p < C; p++) {
        const a = column[c * C + p]!;
        values[(first + c) * S + p - contexts.scoredStart] = a;
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
  const exampleAt = async (context: number, at: number, top: number) => {
    const ids = Array.from(contexts.tokens.subarray(context * C, (context + 1) * C));
    const { cache } = await runner.run([ids], { hooks, positions: 'last' });
    // The layer's full forward here (the graph the live stream and traces use), as a cross-check of the scan.
    const { features } = await transcoders.run(layer, transcoderInput(set.inputHook, decoder, cache, layer));
    const from = Math.max(contexts.scoredStart, at - before);
    const to = Math.min(C, at + after + 1);
    return {
      tokens: ids.slice(from, to).map((id) => ({ id, text: tokenizer.tokenString(id) })),
      activations: Array.from({ length: to - from }, (_, k) => features.data[(from + k) * F + index]!),
      max: top,
      at: at - from,
    };
  };
  const examples: FeatureDetails['examples'] = [];
  for (const [top, context, at] of best) examples.push(await exampleAt(context, at, top));
  // Quantiles of the active tokens by value (ties: the earlier token first), as the index's.
  const activeAt: number[] = [];
  for (let k = 0; k < values.length; k++) if (values[k]! > 0) activeAt.push(k);
  activeAt.sort((a, b) => values[a]! - values[b]! || a - b);
  const quantiles: FeatureDetails['quantiles'] = [];
  let previous = -1;
  for (const quantile of QUANTILES) {
    const at = Math.round(quantile * (activeAt.length - 1));
    if (activeAt.length === 0 || at === previous) continue;
    previous = at;
    const k = activeAt[at]!;
    const value = values[k]!;
    quantiles.push({ quantile, value, example: await exampleAt(Math.floor(k / S), contexts.scoredStart + (k % S), value) });
  }
  const effects = featureLogitEffects(decoder, set, layer, index);
  const token = (id: number) => ({ id, text: tokenizer.tokenString(id) });
  return {
    layer, index, hook: `blocks.${layer}.transcoder`,
    promoted: effects.promoted.map((e) => ({ token: token(e.token), value: e.value })),
    suppressed: effects.suppressed.map((e) => ({ token: token(e.token), value: e.value })),
    corpus: contexts.name, tokensScanned: scanned, activeShare: scanned > 0 ? active / scanned : 0,
    maxActivation: max, meanActive: active > 0 ? sum / active : 0, examples,
    histogram: binaryHistogram(values), quantiles, source: 'scan',
  };
}
