/**
 * Feature graph vs neuron graph on the bundled brown-gpt2 for the same 16-token prompt: the
 * replacement-model graph over the shipped transcoders (every active feature a target, exact;
 * batched ONNX VJPs and the float64 TypeScript path)
 * next to the neuron attribution graph (its default 200-node budget), time, nodes and edges;
 * and the live feature stream: the bytes per token its sparse section adds to a frame (a
 * neuron-only client gets none of them) and the server time to compute and encode it; one
 * feature explained on demand; and the stored corpus index built over the same tokens with the
 * neurons alone and with the neurons and every transcoder feature, side by side.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NeuronIndex } from '../server/neurons/service.js';
import { fileURLToPath } from 'node:url';
import { AnalysisContext } from '../shared/analysis/context.js';
import { buildAttributionGraph } from '../shared/analysis/attribution.js';
import { resolveQuestion } from '../shared/analysis/question.js';
import { loadModel } from '../server/engine/load.js';
import { ModelRunner } from '../shared/engine/runner.js';
import { TranscoderRunner } from '../shared/transcoders/forward.js';
import { buildFeatureGraph, exactnessError } from '../shared/transcoders/graph.js';
import { loadTranscoderSet } from '../server/transcoders/load.js';
import { HostedTranscoders, loadHostedTranscoders } from '../server/transcoders/live.js';
import { ModelHost } from '../shared/service/model-host.js';
import { decodeFrame } from '../shared/frame-codec.js';
import { buildContexts } from '../server/neurons/contexts.js';
import { openCorpus } from '../server/neurons/corpus.js';
import { featureDetailsSteps } from '../server/transcoders/explain.js';
import { runSteps } from '../shared/analysis/steps.js';
import { FEATURE_SCAN_TOKENS } from '../server/transport/feature-handlers.js';
import { row, type BenchRow } from './report.js';

const modelDir = fileURLToPath(new URL('../assets/models/brown-gpt2/', import.meta.url));
const PROMPT = 'When Mary and John went to the store, John gave a drink to the girl and Mary said that';

export async function benchFeatures(): Promise<BenchRow[]> {
  const model = await loadModel(modelDir);
  const set = loadTranscoderSet(`${modelDir}transcoders`, model.decoder.spec);
  const runner = await ModelRunner.create(model.decoder);
  const context = new AnalysisContext(model, runner);
  const transcoders = await TranscoderRunner.create(set);
  const question = resolveQuestion(model.tokenizer, model.decoder, { prompt: PROMPT, target: ' John', distractor: ' Mary' });
  question.tokens = question.tokens.slice(0, 16);
  const T = question.tokens.length;
  const time = async <R>(f: () => Promise<R>): Promise<[R, number]> => {
    const t0 = performance.now();
    const result = await f();
    return [result, (performance.now() - t0) / 1000];
  };
  await context.backwardRunner('linear');
  const [features, featureSeconds] = await time(() => buildFeatureGraph(context, set, transcoders, question, { engine: 'onnx', batchSize: 32 }));
  const [, float64Seconds] = await time(() => buildFeatureGraph(context, set, transcoders, question, { engine: 'float64' }));
  const [neurons, neuronSeconds] = await time(() => buildAttributionGraph(context, question, { maxNodes: 200, batchSize: 32 }));
  const stream = await benchFeatureStream(model, runner, question.tokens);
  await transcoders.dispose();
  await context.dispose();
  await runner.dispose();
  const exact = exactnessError(features).worst;
  return [
    row('features', `feature graph (replacement model), bundled model, ${T} tokens, batched ONNX VJPs (32 rows)`, featureSeconds, 's',
      `${features.stats.features} features, ${features.nodes.length} nodes, ${features.weights.length.toLocaleString('en')} edges; exactness ${exact.toExponential(1)}; replacement ${features.scores.replacement.toFixed(3)}, completeness ${features.scores.completeness.toFixed(3)}`),
    row('features', 'same feature graph, float64 TypeScript VJPs (one row at a time)', float64Seconds, 's'),
    row('features', `neuron graph, same prompt, 200 neuron nodes`, neuronSeconds, 's',
      `${neurons.nodes.length} nodes, ${neurons.weights.length.toLocaleString('en')} edges`),
    ...stream,
  ];
}

/** The live stream on the same 16 tokens: frames with and without the sparse feature section. */
async function benchFeatureStream(model: Awaited<ReturnType<typeof loadModel>>, runner: ModelRunner, tokens: number[]): Promise<BenchRow[]> {
  const hosted = await loadHostedTranscoders(`${modelDir}transcoders`, model.decoder);
  const host = new ModelHost('brown-gpt2', model, runner, hosted);
  const T = tokens.length;
  const { cache } = await runner.run([tokens], { hooks: host.featureFrameHooks });
  let plainBytes = 0;
  let featureBytes = 0;
  let active = 0;
  const features = await hosted.features(cache);
  for (let t = 0; t < T; t++) {
    plainBytes += host.frame(cache, t, 0, tokens[t]!).byteLength;
    const bytes = host.frame(cache, t, 0, tokens[t]!, features[t]);
    featureBytes += bytes.byteLength;
    active += decodeFrame(bytes).features!.indices.length;
  }
  // Server time per token of the feature part: the extra hooks' run is shared with the frame, so
  // time the transcoder forward plus the sparse extraction and encoding, median of 5.
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const f = await hosted.features(cache);
    for (let t = 0; t < T; t++) host.frame(cache, t, 0, tokens[t]!, f[t]);
    times.push((performance.now() - t0) / T);
  }
  times.sort((a, b) => a - b);
  // One feature explained on demand ('feature:details'): the corpus scan the server runs.
  const contexts = await buildContexts(openCorpus(), model.tokenizer, model.decoder.spec, { budget: FEATURE_SCAN_TOKENS });
  const t0 = performance.now();
  const details = await runSteps(featureDetailsSteps(model, runner, hosted.set, hosted.runner, contexts, 0, features[T - 1]!.indices[0] ?? 0));
  const scanSeconds = (performance.now() - t0) / 1000;
  const index = await benchFeatureIndex(model, hosted);
  await hosted.dispose();
  const L = model.decoder.spec.nLayers;
  return [
    row('features', `live feature stream: bytes per token added to a frame (${L} layers, ${T} tokens)`, (featureBytes - plainBytes) / T, 'B',
      `${(active / (T * L)).toFixed(1)} active features per layer and token; a neuron-only frame is ${(plainBytes / T).toFixed(0)} B/token and unchanged for clients that did not subscribe`),
    row('features', 'live feature stream: server time per token (transcoder forward + sparse encoding, 16-token run)', times[2]!, 'ms'),
    row('features', `one feature explained on demand (feature:details): scan of ${details.tokensScanned.toLocaleString('en')} corpus tokens`, scanSeconds, 's',
      `${Math.round(details.tokensScanned / scanSeconds).toLocaleString('en')} tokens/s (a runner compiled up to the layer's ln2, the feature's own pre-activation; batches of 16 × ${contexts.contextLength})`),
    ...index,
  ];
}

/** Corpus tokens of the index rows (the bundled corpus's first ones). */
const INDEX_TOKENS = 8192;

/**
 * The stored corpus index over INDEX_TOKENS tokens, built twice in fresh folders (the corpus
 * tokenized before the clock starts): neurons alone, then neurons and every transcoder feature
 * in the same build (NeuronIndex as npm start and the CLI run it); throughput over the whole
 * build (corpus pass, logit effects and records), and one feature's details from the warm store.
 */
async function benchFeatureIndex(model: Awaited<ReturnType<typeof loadModel>>, hosted: HostedTranscoders): Promise<BenchRow[]> {
  const build = async (transcoders: HostedTranscoders | null) => {
    const dir = mkdtempSync(join(tmpdir(), 'cxr-bench-feature-index-'));
    const index = new NeuronIndex(model, { indexDir: dir, tokens: INDEX_TOKENS, transcoders });
    await index.locate(true); // model key, transcoder key and the corpus's tokens: not timed
    const t0 = performance.now();
    const steps = (await index.prepareBuild())!;
    let pass = 0;
    while (await steps.step()) if (!pass && index.status().done === index.status().total) pass = performance.now() - t0;
    const seconds = (performance.now() - t0) / 1000;
    const tokens = index.status().total;
    const featureBytes = index.featureStorePath ? statSync(index.featureStorePath).size : 0;
    return { dir, index, seconds, pass: pass / 1000, tokens, featureBytes };
  };
  const neurons = await build(null);
  const both = await build(hosted);
  const F = hosted.set.layers[0]!.nFeatures;
  const L = hosted.set.layers.length;
  const times: number[] = [];
  for (let k = 0; k < 200; k++) {
    const t0 = performance.now();
    both.index.featureDetails(k % L, (k * 7919) % F);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  for (const b of [neurons, both]) {
    await b.index.dispose();
    rmSync(b.dir, { recursive: true, force: true });
  }
  const N = model.decoder.spec.dMlp * model.decoder.spec.nLayers;
  return [
    row('features', `stored index build, ${neurons.tokens.toLocaleString('en')} corpus tokens: neurons alone (${N.toLocaleString('en')})`, neurons.tokens / neurons.seconds, 'tokens/s',
      `${neurons.seconds.toFixed(2)} s (corpus pass ${neurons.pass.toFixed(2)} s, logit effects + records the rest)`),
    row('features', `same tokens: neurons + every feature (${L} × ${F.toLocaleString('en')}) in one build`, both.tokens / both.seconds, 'tokens/s',
      `${both.seconds.toFixed(2)} s (corpus pass ${both.pass.toFixed(2)} s); ${(neurons.seconds > 0 ? both.seconds / neurons.seconds : 0).toFixed(2)}× the neurons alone; feature store ${(both.featureBytes / 2 ** 20).toFixed(1)} MiB (per feature, whatever the corpus)`),
    row('features', 'one feature\'s details from the warm stored index (median of 200)', times[100]!, 'ms', 'vs the on-demand scan above'),
  ];
}
