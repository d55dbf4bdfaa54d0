/**
 * A replacement-model graph (graph.ts) in the Neuronpedia / circuit-tracer JSON shape:
 * features `{layer}_{feature}_{pos}` ("cross layer transcoder", as circuit-tracer labels
 * per-layer transcoder features too), error nodes `{layer}_-1_{pos}` (feature −1, "mlp
 * reconstruction error", as in circuit-tracer's published fixture), embeddings `E_{token}_{pos}`,
 * the Δ logit `{L+1}_{target}_{P}`; the replacement and completeness scores in the metadata.
 */
import { graphNodeId, type AttributionGraph, type GraphNode } from '../../shared/graph/schema.js';
import type { TokenTexts } from '../analysis/graph-export.js';
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

export function featureGraphJson(raw: FeatureGraph, options: FeatureExportOptions): AttributionGraph {
  const { tokenizer, nLayers } = options;
  const tokenText = (id: number) => tokenizer.tokenString(id);
  const ids = raw.nodes.map((n) => featureNodeId(n, nLayers));
  const targetText = tokenText(raw.target);
  const distractorText = tokenText(raw.distractor);
  const nodes: GraphNode[] = raw.nodes.map((node, i): GraphNode => {
    const at = JSON.stringify(tokenText(raw.tokens[node.pos]!));
    const base = { node_id: ids[i]!, ctx_idx: node.pos, jsNodeId: ids[i]!.replace(/_(\d+)$/, '-$1'), influence: null, token_prob: 0, is_target_logit: false };
    const targetFields = node.actual === undefined ? {} : { actual: node.actual, constant: node.constant };
    switch (node.kind) {
      case 'embedding':
        return { ...base, feature: node.index, layer: 'E', feature_type: 'embedding', clerp: `Emb: ${at}`, activation: null };
      case 'logit':
        return {
          ...base, ...targetFields, feature: node.index, layer: String(nLayers + 1), feature_type: 'logit',
          clerp: `Δ logit ${JSON.stringify(targetText)} − ${JSON.stringify(distractorText)} (p=${raw.targetProb.toFixed(3)})`,
          activation: null, token_prob: raw.targetProb, is_target_logit: true,
        };
      case 'error':
        return { ...base, feature: -1, layer: String(node.layer), feature_type: 'mlp reconstruction error', clerp: `transcoder error of blocks.${node.layer}.mlp at ${at}`, activation: null };
      case 'feature':
        return {
          ...base, ...targetFields, feature: node.index, layer: String(node.layer), feature_type: 'cross layer transcoder',
          clerp: `L${node.layer} feature ${node.index} at ${at}`, activation: node.activation,
        };
    }
  });
  const links = Array.from(raw.weights, (weight, k) => ({ source: ids[raw.sources[k]!]!, target: ids[raw.targets[k]!]!, weight }));
  return {
    metadata: {
      slug: `circuits-xr-features-${Date.now().toString(36)}`,
      scan: options.scan,
      prompt: options.prompt,
      prompt_tokens: raw.tokens.map(tokenText),
      node_threshold: options.nodeThreshold,
      schema_version: 1,
      info: { creator_name: 'Circuits XR', transcoder_set: options.transcoderSet, generator: { name: 'circuits-xr', version: '0.1.0', url: '' }, create_time_ms: Date.now() },
      generation_settings: { max_n_logits: 1, desired_logit_prob: 0, batch_size: 1, max_feature_nodes: raw.stats.features },
      pruning_settings: { node_threshold: options.nodeThreshold, edge_threshold: options.edgeThreshold },
      target: { id: raw.target, text: targetText },
      distractor: { id: raw.distractor, text: distractorText },
      logit_diff: raw.logitDiff,
      replacement_score: raw.scores.replacement,
      completeness_score: raw.scores.completeness,
    },
    qParams: { pinnedIds: [], supernodes: [], linkType: 'both', clickedId: '', sg_pos: '' },
    nodes,
    links,
  };
}
