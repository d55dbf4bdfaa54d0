/**
 * What the client gets of a big attribution graph: the graph pruned at the given thresholds
 * (shared/graph/prune.ts, circuit-tracer's rule) and capped to a link budget, as Neuronpedia
 * JSON text. When more links than the budget survive the edge threshold, the edge threshold
 * is lowered (binary search) until they fit, so the cap keeps the highest-scoring edges by the
 * same rule. Pure and synchronous: it runs in a worker thread (prune-worker.ts) so a graph of
 * millions of links never stalls the event loop.
 */
import { applyPrune, pruneGraph, type PruneResult } from '../graph/prune.js';
import { exportGraph, type GraphIndex } from '../graph/io.js';
import { nodeKind } from '../graph/schema.js';
import type { RawGraph } from './attribution.js';
import { toGraphJson, type ExportOptions } from './graph-export.js';
import type { FeatureGraph } from '../transcoders/graph.js';
import { featureGraphJson } from '../transcoders/graph-export.js';

export interface PruneRequest {
  /** A neuron graph, or a transcoder-feature graph when `features` is set. */
  raw: RawGraph | FeatureGraph;
  /** The graph is over transcoder features (exported as circuit-tracer's feature nodes). */
  features?: { transcoderSet: string };
  /** Export options, with the text of every token id the graph shows. */
  options: Omit<ExportOptions, 'tokenizer'>;
  tokenTexts: Record<number, string>;
  linkBudget: number;
}

export interface PrunedGraph {
  /** Neuronpedia JSON of the pruned graph. */
  text: string;
  nodes: number;
  links: number;
  /** The edge threshold applied (the requested one, or lower to fit the link budget). */
  edgeThreshold: number;
}

export function prunedGraphText(request: PruneRequest): PrunedGraph {
  const { raw, options, tokenTexts, linkBudget } = request;
  const tokenizer = { tokenString: (id: number) => tokenTexts[id] ?? `#${id}` };
  // Nodes only: links stay in typed arrays until pruning has chosen the few that are sent.
  const noEdges = { sources: new Int32Array(0), targets: new Int32Array(0), weights: new Float64Array(0) };
  const skeleton = request.features
    ? featureGraphJson({ ...(raw as FeatureGraph), ...noEdges }, { ...options, tokenizer, transcoderSet: request.features.transcoderSet })
    : toGraphJson({ ...(raw as RawGraph), ...noEdges }, { ...options, tokenizer });
  const kinds = skeleton.nodes.map(nodeKind);
  const nodeIds = skeleton.nodes.map((n) => n.node_id);
  const indicesOf = (kind: string) => Int32Array.from(kinds.flatMap((k, i) => (k === kind ? [i] : [])));
  const index: GraphIndex = {
    nodeIds, indexOf: new Map(nodeIds.map((id, i) => [id, i])), kinds,
    tokenProbs: Float64Array.from(skeleton.nodes, (n) => n.token_prob ?? 0),
    logitIndices: indicesOf('logit'), embeddingIndices: indicesOf('embedding'),
    edgeSources: raw.sources, edgeTargets: raw.targets, edgeWeights: raw.weights,
  };
  const prune = (edgeThreshold: number) => pruneGraph(index, { nodeThreshold: options.nodeThreshold, edgeThreshold });
  let edgeThreshold = options.edgeThreshold;
  let result: PruneResult = prune(edgeThreshold);
  if (result.keptLinks.length > linkBudget) {
    let low = 0;
    let high = edgeThreshold;
    let best: PruneResult | null = null;
    for (let i = 0; i < 12; i++) {
      const mid = (low + high) / 2;
      const trial = prune(mid);
      if (trial.keptLinks.length <= linkBudget) {
        best = trial;
        edgeThreshold = mid;
        low = mid;
      } else {
        high = mid;
      }
    }
    result = best ?? prune(0);
    if (!best) edgeThreshold = 0;
    if (result.keptLinks.length > linkBudget) {
      // Even the strongest edges alone exceed the budget: keep the budget's worth, in link order.
      result = { ...result, keptLinks: result.keptLinks.slice(0, linkBudget) };
    }
  }
  const pruned = applyPrune(skeleton, result);
  pruned.metadata.pruning_settings = { node_threshold: options.nodeThreshold, edge_threshold: edgeThreshold };
  return { text: exportGraph(pruned), nodes: pruned.nodes.length, links: pruned.links.length, edgeThreshold };
}
