/**
 * The attribution graph as users get it: build (attribution.ts), with the target's
 * probability, in the Neuronpedia JSON shape (graph-export.ts), unpruned — callers prune with
 * shared/graph/prune.ts (the client re-prunes live).
 */
import type { AttributionGraph } from '../../shared/graph/schema.js';
import { hookName } from '../engine/hooks.js';
import { buildAttributionGraph, type AttributionOptions } from './attribution.js';
import type { AnalysisContext } from './context.js';
import { toGraphJson } from './graph-export.js';
import type { ResolvedQuestion } from './question.js';

export interface GraphRequest extends AttributionOptions {
  scan: string;
  prompt: string;
  nodeThreshold: number;
  edgeThreshold: number;
}

export async function attributionGraph(context: AnalysisContext, question: ResolvedQuestion, request: GraphRequest): Promise<AttributionGraph> {
  const raw = await buildAttributionGraph(context, question, request);
  const { logits } = await context.runner.run([question.tokens], { positions: 'last', hooks: [hookName.logits] });
  let max = -Infinity;
  for (const v of logits.data) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits.data) sum += Math.exp(v - max);
  const targetProb = Math.exp(logits.data[question.target]! - max) / sum;
  return toGraphJson(raw, {
    scan: request.scan, prompt: request.prompt, tokenizer: context.model.tokenizer, nLayers: context.model.decoder.spec.nLayers,
    targetProb, batchSize: request.batchSize ?? 32, maxNodes: request.maxNodes ?? 200,
    nodeThreshold: request.nodeThreshold, edgeThreshold: request.edgeThreshold,
  });
}
