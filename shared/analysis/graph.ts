/**
 * The attribution graph as users get it: build (attribution.ts) and export in the Neuronpedia
 * JSON shape (graph-export.ts). `attributionGraph` returns the whole graph (CLI, tests);
 * `graphSteps` is the server's scheduler job: the build's steps, then, for a graph with more
 * links than the budget, pruning and export (graph-prune.ts) through the platform's prune runner
 * (a worker thread on the server, server/analysis/prune-thread.ts), polled in short steps so
 * other clients' work runs meanwhile.
 */
import type { AttributionGraph } from '../graph/schema.js';
import { exportGraph } from '../graph/io.js';
import { attributionSteps, buildAttributionGraph, type AttributionOptions, type RawGraph } from './attribution.js';
import type { AnalysisContext } from './context.js';
import { toGraphJson, type ExportOptions } from './graph-export.js';
import { prunedGraphText, type PrunedGraph, type PruneRequest } from './graph-prune.js';
import type { ResolvedQuestion } from './question.js';
import { relaySteps, type StepProgress, type Steps } from './steps.js';

export interface GraphRequest extends AttributionOptions {
  scan: string;
  prompt: string;
  nodeThreshold: number;
  edgeThreshold: number;
}

function exportOptions(context: AnalysisContext, raw: RawGraph, request: GraphRequest): ExportOptions {
  return {
    scan: request.scan, prompt: request.prompt, tokenizer: context.model.tokenizer, nLayers: context.model.decoder.spec.nLayers,
    targetProb: raw.targetProb, batchSize: request.batchSize ?? 32, maxNodes: request.maxNodes ?? 200,
    nodeThreshold: request.nodeThreshold, edgeThreshold: request.edgeThreshold,
  };
}

/** The whole (unpruned) graph; callers prune with shared/graph/prune.ts. */
export async function attributionGraph(context: AnalysisContext, question: ResolvedQuestion, request: GraphRequest): Promise<AttributionGraph> {
  const raw = await buildAttributionGraph(context, question, request);
  return toGraphJson(raw, exportOptions(context, raw, request));
}

export interface GraphOutcome {
  raw: RawGraph;
  /** Neuronpedia JSON of what the client gets. */
  text: string;
  sent: { pruned: boolean; nodes: number; links: number; linkBudget: number; edgeThreshold: number };
}

/** Longest a polling step waits for the pruning worker before handing the scheduler back. */
const POLL_MS = 20;

export async function* graphSteps(
  context: AnalysisContext, question: ResolvedQuestion, request: GraphRequest & { linkBudget: number },
): Steps<GraphOutcome> {
  const { value: raw, last } = yield* relaySteps(attributionSteps(context, question, { ...request, finishUnits: 2 }));
  const options = exportOptions(context, raw, request);
  const finished = (phase: string, units: number): StepProgress => ({ phase, done: last.done + units, total: last.total });
  if (raw.weights.length <= request.linkBudget) {
    // Small enough to send whole: the client prunes it live at any threshold.
    const text = exportGraph(toGraphJson(raw, options));
    yield finished('export', 2);
    return { raw, text, sent: { pruned: false, nodes: raw.nodes.length, links: raw.weights.length, linkBudget: request.linkBudget, edgeThreshold: 0 } };
  }
  const { tokenizer, ...plain } = options;
  const tokenTexts: Record<number, string> = {};
  for (const id of [...raw.tokens, raw.target, raw.distractor]) tokenTexts[id] = tokenizer.tokenString(id);
  const pruneRequest: PruneRequest = { raw, options: plain, tokenTexts, linkBudget: request.linkBudget };
  const { text, sent } = yield* pruneSteps(pruneRequest, finished);
  return { raw, text, sent };
}

/** Runs one pruning off the calling thread where the platform can; `terminate` abandons it. */
export type PruneRunner = (request: PruneRequest) => { result: Promise<PrunedGraph>; terminate: () => void };

/** In place, on this thread: the default (the page's engine worker is already off the page's thread). */
const pruneHere: PruneRunner = (request) => ({ result: Promise.resolve().then(() => prunedGraphText(request)), terminate: () => {} });
let pruneRunner: PruneRunner = pruneHere;

/** The server registers its worker-thread runner (server/analysis/prune-thread.ts). */
export function setPruneRunner(runner: PruneRunner): void {
  pruneRunner = runner;
}

/**
 * Prunes and exports a graph over the link budget with the prune runner; polling steps hand the
 * scheduler back while it works, and `finished` counts their progress after the build.
 */
export async function* pruneSteps(
  pruneRequest: PruneRequest, finished: (phase: string, units: number) => StepProgress,
): Steps<Pick<GraphOutcome, 'text' | 'sent'>> {
  const worker = pruneRunner(pruneRequest);
  let settled = false;
  worker.result.then(() => { settled = true; }, () => { settled = true; });
  try {
    while (!settled) {
      await Promise.race([worker.result.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, POLL_MS))]);
      if (!settled) yield finished('prune', 0);
    }
    const pruned = await worker.result;
    yield finished('export', 2);
    return {
      text: pruned.text,
      sent: { pruned: true, nodes: pruned.nodes, links: pruned.links, linkBudget: pruneRequest.linkBudget, edgeThreshold: pruned.edgeThreshold },
    };
  } finally {
    if (!settled) worker.terminate();
  }
}
