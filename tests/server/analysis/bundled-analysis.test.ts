/**
 * The analysis invariants on the bundled model, with a real tokenizer and a real question:
 * Σ direct effects + constants = Δ, and attribution graph completeness for every target.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../../server/engine/load.js';
import { ModelRunner } from '../../../shared/engine/runner.js';
import { AnalysisContext } from '../../../shared/analysis/context.js';
import { computeEffects } from '../../../shared/analysis/effects.js';
import { buildAttributionGraph } from '../../../shared/analysis/attribution.js';
import { resolveQuestion } from '../../../shared/analysis/question.js';

const dir = fileURLToPath(new URL('../../../assets/models/brown-gpt2/', import.meta.url));

describe('analysis on the bundled model', () => {
  it('decomposes Δ exactly and builds a complete attribution graph', async () => {
    const model = await loadModel(dir);
    const context = new AnalysisContext(model, await ModelRunner.create(model.decoder));
    const question = resolveQuestion(model.tokenizer, model.decoder, { prompt: 'The jury said that the city', target: ' had', distractor: ' was' });
    const effects = await computeEffects(context, question);
    const sum = effects.direct.reduce((acc, e) => acc + e.value, 0) + effects.constant;
    expect(Math.abs(sum - effects.logit_diff)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(effects.logit_diff)));

    const graph = await buildAttributionGraph(context, question, { maxNodes: 64 });
    const incoming = new Float64Array(graph.nodes.length);
    for (let k = 0; k < graph.weights.length; k++) incoming[graph.targets[k]!]! += graph.weights[k]!;
    let targets = 0;
    graph.nodes.forEach((node, i) => {
      if (node.actual === undefined) return;
      targets++;
      expect(Math.abs(incoming[i]! + node.constant! - node.actual)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(node.actual)));
    });
    expect(targets).toBe(65);
  });
});
