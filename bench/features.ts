/**
 * Feature graph vs neuron graph on the bundled brown-gpt2 for the same 16-token prompt: the
 * replacement-model graph over the shipped transcoders (every active feature a target, exact;
 * batched ONNX VJPs and the float64 TypeScript path)
 * next to the neuron attribution graph (its default 200-node budget), time, nodes and edges.
 */
import { fileURLToPath } from 'node:url';
import { AnalysisContext } from '../server/analysis/context.js';
import { buildAttributionGraph } from '../server/analysis/attribution.js';
import { resolveQuestion } from '../server/analysis/question.js';
import { loadModel } from '../server/engine/load.js';
import { ModelRunner } from '../server/engine/runner.js';
import { TranscoderRunner } from '../server/transcoders/forward.js';
import { buildFeatureGraph, exactnessError } from '../server/transcoders/graph.js';
import { loadTranscoderSet } from '../server/transcoders/load.js';
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
  ];
}
