/**
 * A replacement-model graph (graph.ts) in the Neuronpedia / circuit-tracer JSON shape:
 * features `{layer}_{feature}_{pos}` ("cross layer transcoder", as circuit-tracer labels
 * per-layer transcoder features too), error nodes `{layer}_-1_{pos}` (feature −1, "mlp
 * reconstruction error", as in circuit-tracer's published fixture), embeddings `E_{token}_{pos}`,
 * the Δ logit `{L+1}_{target}_{P}`; the replacement and completeness scores in the metadata.
 */
import { graphNodeId, type AttributionGraph } from '../graph/schema.js';
import { exportAttributionGraph, type TokenTexts, type UnitVocabulary } from '../analysis/graph-export.js';
import type { FeatureGraph, FeatureNode } from './graph.js';

export interface FeatureExportOptions {
  scan: string;
  prompt: string;
  tokenizer: TokenTexts;
  nLayers: number;
  /** The transcoder set's source, recorded in metadata.info. */
  transcoderSet: string;
  nodeThreshold: number;
  edgeThreshold: number;
}

export function featureNodeId(node: FeatureNode, nLayers: number): string {
  return graphNodeId(node.kind === 'feature' ? 'unit' : node.kind, node.layer, node.index, node.pos, nLayers);
}

const featureVocabulary: UnitVocabulary = {
  unitType: 'cross layer transcoder',
  unitLabel: (layer, index, at) => `L${layer} feature ${index} at ${at}`,
  errorLabel: (layer, at) => `transcoder error of blocks.${layer}.mlp at ${at}`,
  slugPrefix: 'circuits-xr-features',
};

export function featureGraphJson(raw: FeatureGraph, options: FeatureExportOptions): AttributionGraph {
  return exportAttributionGraph(
    { ...raw, nodes: raw.nodes.map((node) => ({ ...node, kind: node.kind === 'feature' ? 'unit' as const : node.kind })) },
    { ...options, batchSize: 1, maxNodes: raw.stats.features },
    featureVocabulary,
    {
      info: { transcoder_set: options.transcoderSet },
      metadata: { replacement_score: raw.scores.replacement, completeness_score: raw.scores.completeness },
    },
  );
}
