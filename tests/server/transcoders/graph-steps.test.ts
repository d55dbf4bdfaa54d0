/**
 * The server's feature trace (graph-steps.ts) on the bundled model: a graph within the link
 * budget is sent whole and exact; one over it is pruned in the worker thread to the budget, still
 * circuit-tracer's feature nodes with the scores in its metadata, and the ids it returns name the
 * whole graph's nodes for edge queries.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalysisContext } from '../../../shared/analysis/context.js';
import { resolveQuestion } from '../../../shared/analysis/question.js';
import { runSteps } from '../../../shared/analysis/steps.js';
import { loadModel } from '../../../server/engine/load.js';
import { ModelRunner } from '../../../shared/engine/runner.js';
import { TranscoderRunner } from '../../../shared/transcoders/forward.js';
import { featureTraceSteps } from '../../../shared/transcoders/graph-steps.js';
import { loadTranscoderSet, type TranscoderSet } from '../../../server/transcoders/load.js';
import { importGraph } from '../../../shared/graph/io.js';
import { nodeKind } from '../../../shared/graph/schema.js';

const modelDir = join(new URL('../../../', import.meta.url).pathname, 'assets/models/brown-gpt2');
let context: AnalysisContext;
let set: TranscoderSet;
let transcoders: TranscoderRunner;
let runner: ModelRunner;

beforeAll(async () => {
  const model = await loadModel(modelDir);
  runner = await ModelRunner.create(model.decoder);
  context = new AnalysisContext(model, runner);
  set = loadTranscoderSet(join(modelDir, 'transcoders'), model.decoder.spec);
  transcoders = await TranscoderRunner.create(set);
});
afterAll(async () => {
  await transcoders?.dispose();
  await context?.dispose();
  await runner?.dispose();
});

const request = { scan: 'brown-gpt2', prompt: ' the apple fell from the', nodeThreshold: 0.8, edgeThreshold: 0.98, stepMs: 20 };

describe('feature trace steps', () => {
  it('sends a graph within the budget whole, with actual and constant on every target node', async () => {
    const question = resolveQuestion(context.model.tokenizer, context.model.decoder, { prompt: request.prompt, target: ' tree', distractor: ' sky' });
    const steps: number[] = [];
    const outcome = await runSteps(featureTraceSteps(context, set, transcoders, question, { ...request, linkBudget: 10_000_000 }), (p) => steps.push(p.done));
    expect(steps.length).toBeGreaterThan(2);
    expect(outcome.sent.pruned).toBe(false);
    const graph = importGraph(JSON.parse(outcome.text));
    expect(graph.nodes).toHaveLength(outcome.raw.nodes.length);
    expect(graph.links).toHaveLength(outcome.raw.weights.length);
    expect(graph.nodes.map((n) => n.node_id)).toEqual(outcome.ids);
    // Exact from the sent file alone: Σ incoming + constant = actual for every target node.
    const incoming = new Map<string, number>();
    for (const link of graph.links) incoming.set(link.target, (incoming.get(link.target) ?? 0) + link.weight);
    let checked = 0;
    for (const node of graph.nodes) {
      if (node.actual === undefined) continue;
      checked++;
      expect(Math.abs((incoming.get(node.node_id) ?? 0) + (node.constant ?? 0) - node.actual)).toBeLessThan(1e-3 * Math.max(1, Math.abs(node.actual)));
    }
    expect(checked).toBe(outcome.raw.stats.features + 1);
  });

  it('prunes a graph over the budget in the worker, keeping feature nodes and scores', async () => {
    const question = resolveQuestion(context.model.tokenizer, context.model.decoder, { prompt: request.prompt, target: ' tree', distractor: ' sky' });
    const outcome = await runSteps(featureTraceSteps(context, set, transcoders, question, { ...request, linkBudget: 300 }));
    expect(outcome.raw.weights.length).toBeGreaterThan(300);
    expect(outcome.sent.pruned).toBe(true);
    expect(outcome.sent.links).toBeLessThanOrEqual(300);
    const graph = importGraph(JSON.parse(outcome.text));
    expect(graph.links.length).toBe(outcome.sent.links);
    expect(graph.nodes.length).toBeLessThan(outcome.raw.nodes.length);
    expect(graph.nodes.some((n) => n.feature_type === 'cross layer transcoder')).toBe(true);
    expect(graph.nodes.every((n) => n.feature_type !== 'mlp neuron')).toBe(true);
    expect(graph.nodes.filter((n) => nodeKind(n) === 'logit')).toHaveLength(1);
    expect(graph.metadata.replacement_score).toBeCloseTo(outcome.raw.scores.replacement, 10);
    expect(graph.metadata.completeness_score).toBeCloseTo(outcome.raw.scores.completeness, 10);
    for (const node of graph.nodes) expect(outcome.ids).toContain(node.node_id);
  });
});
