/**
 * The server's "Trace over features": the replacement-model graph (graph.ts) as a scheduler job
 * of short steps, like the neuron trace (analysis/graph.ts): the build's steps (forward, target
 * rows in chunks of `stepMs`, scores), then the Neuronpedia JSON the client gets: the whole graph
 * when its links fit the budget, else pruned at the thresholds (edge threshold lowered to fit) in
 * the pruning worker, polled in short steps. Cancelling closes the steps at the next one.
 */
import { exportGraph } from '../graph/io.js';
import type { AnalysisContext } from '../analysis/context.js';
import { pruneSteps, type GraphOutcome } from '../analysis/graph.js';
import type { PruneRequest } from '../analysis/graph-prune.js';
import type { ResolvedQuestion } from '../analysis/question.js';
import { relaySteps, type StepProgress, type Steps } from '../analysis/steps.js';
import type { TranscoderRunner } from './forward.js';
import { featureGraphSteps, type FeatureGraph } from './graph.js';
import { featureGraphJson, featureNodeId, type FeatureExportOptions } from './graph-export.js';
import type { TranscoderSet } from './load.js';

export interface FeatureTraceRequest {
  scan: string;
  prompt: string;
  nodeThreshold: number;
  edgeThreshold: number;
  linkBudget: number;
  stepMs: number;
}

export interface FeatureTraceOutcome extends Omit<GraphOutcome, 'raw'> {
  raw: FeatureGraph;
  /** Node ids of the whole graph, in node order (for the held graph's edge queries). */
  ids: string[];
}

export async function* featureTraceSteps(
  context: AnalysisContext, set: TranscoderSet, transcoders: TranscoderRunner, question: ResolvedQuestion, request: FeatureTraceRequest,
): Steps<FeatureTraceOutcome> {
  // Two more units after the build: export (or pruning) and the answer.
  const { value: raw, last } = yield* relaySteps(
    featureGraphSteps(context, set, transcoders, question, { stepMs: request.stepMs }),
    (progress) => ({ ...progress, total: progress.total + 2 }),
  );
  const { nLayers } = context.model.decoder.spec;
  const ids = raw.nodes.map((node) => featureNodeId(node, nLayers));
  const options: FeatureExportOptions = {
    scan: request.scan, prompt: request.prompt, tokenizer: context.model.tokenizer, nLayers, transcoderSet: set.source,
    nodeThreshold: request.nodeThreshold, edgeThreshold: request.edgeThreshold,
  };
  const finished = (phase: string, units: number): StepProgress => ({ phase, done: last.done + units, total: last.total });
  if (raw.weights.length <= request.linkBudget) {
    const text = exportGraph(featureGraphJson(raw, options));
    yield finished('export', 2);
    return { raw, ids, text, sent: { pruned: false, nodes: raw.nodes.length, links: raw.weights.length, linkBudget: request.linkBudget, edgeThreshold: 0 } };
  }
  const tokenTexts: Record<number, string> = {};
  for (const id of [...raw.tokens, raw.target, raw.distractor]) tokenTexts[id] = context.model.tokenizer.tokenString(id);
  const pruneRequest: PruneRequest = {
    raw, features: { transcoderSet: set.source }, tokenTexts, linkBudget: request.linkBudget,
    options: {
      scan: request.scan, prompt: request.prompt, nLayers, targetProb: raw.targetProb, batchSize: 1, maxNodes: raw.stats.features,
      nodeThreshold: request.nodeThreshold, edgeThreshold: request.edgeThreshold,
    },
  };
  const { text, sent } = yield* pruneSteps(pruneRequest, finished);
  return { raw, ids, text, sent };
}
