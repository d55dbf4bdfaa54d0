/**
 * Analysis benchmark on GPT-2-small shapes (random weights): direct + total effects, and a
 * 16-token attribution graph batched vs a naive one-vector-at-a-time baseline, in one run.
 */
import { AnalysisContext } from '../shared/analysis/context.js';
import { computeEffects } from '../shared/analysis/effects.js';
import { buildAttributionGraph } from '../shared/analysis/attribution.js';
import type { ResolvedQuestion } from '../shared/analysis/question.js';
import { gpt2SmallSpec, randomDecoder } from '../shared/engine/random-decoder.js';
import { ModelRunner } from '../shared/engine/runner.js';
import { row, type BenchRow } from './report.js';

export async function benchAnalysis(): Promise<BenchRow[]> {
  const decoder = randomDecoder(gpt2SmallSpec());
  const tokenizer = { encode: () => [], decode: () => '', tokenString: String, vocabSize: 50257, bosId: null, eosId: null };
  const context = new AnalysisContext({ decoder, tokenizer }, await ModelRunner.create(decoder));
  const tokens = Array.from({ length: 16 }, (_, i) => (i * 7919 + 13) % 50257);
  const question: ResolvedQuestion = { tokens, target: 5000, distractor: 6000, targetTokens: [5000], distractorTokens: [6000], warnings: [] };
  await context.backwardRunner('full');
  await context.backwardRunner('linear');
  const time = async (f: () => Promise<unknown>) => {
    const t0 = performance.now();
    await f();
    return (performance.now() - t0) / 1000;
  };
  await computeEffects(context, question); // warm-up
  const effects = await time(() => computeEffects(context, question));
  const maxNodes = 200;
  const batched = await time(() => buildAttributionGraph(context, question, { maxNodes, batchSize: 32 }));
  const naive = await time(() => buildAttributionGraph(context, question, { maxNodes, batchSize: 1 }));
  await context.dispose();
  return [
    row('analysis', 'direct + total + token effects, 16 tokens', effects, 's'),
    row('analysis', `attribution graph, 16 tokens, ${maxNodes} neuron nodes, batched VJPs (32 rows)`, batched, 's', 'target < 10 s'),
    row('analysis', 'same graph, naive one-vector-at-a-time VJPs', naive, 's'),
    row('analysis', 'speed-up of batching (naive / batched)', naive / batched, '×'),
  ];
}
