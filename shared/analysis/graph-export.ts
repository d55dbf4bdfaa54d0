/**
 * Turns a raw attribution graph into the Neuronpedia / circuit-tracer graph JSON shape
 * (INTERP.md): node ids `{layer}_{neuron}_{pos}`, embeddings `E_{token}_{pos}`, the Δ logit
 * `{L+1}_{target}_{P}`, and the exact aggregate of the neurons not kept at (layer, pos) as an
 * error-style node `{layer}_-1_{pos}` (feature −1, "mlp reconstruction error").
 */
import { graphNodeId, type AttributionGraph, type GraphNode, type NodeIdKind } from '../graph/schema.js';
import type { Tokenizer } from '../engine/decoder.js';

/** What the export needs of a tokenizer (a worker gets a table of the few ids it shows). */
export type TokenTexts = Pick<Tokenizer, 'tokenString'>;
import type { RawGraph, RawNode } from './attribution.js';

export interface ExportOptions {
  scan: string;
  prompt: string;
  tokenizer: TokenTexts;
  nLayers: number;
  /** Probability of the target at P, for the logit node. */
  targetProb: number;
  batchSize: number;
  maxNodes: number;
  nodeThreshold: number;
  edgeThreshold: number;
}

/** A node as the exporter sees it, whatever the graph's units are (neurons or transcoder features). */
export interface ExportNode {
  kind: NodeIdKind;
  layer: number;
  /** Unit index; token id for embeddings and the logit; -1 for error / aggregate nodes. */
  index: number;
  pos: number;
  activation: number | null;
  actual?: number;
  constant?: number;
}

/** What differs between graphs of neurons and of features: the unit's name and type, the error's name. */
export interface UnitVocabulary {
  unitType: string;
  unitLabel: (layer: number, index: number, at: string) => string;
  errorLabel: (layer: number, at: string) => string;
  slugPrefix: string;
}

export interface GraphExportInput {
  tokens: number[];
  target: number;
  distractor: number;
  logitDiff: number;
  targetProb: number;
  nodes: ExportNode[];
  sources: Int32Array;
  targets: Int32Array;
  weights: ArrayLike<number>;
}

export interface CommonExportOptions {
  scan: string;
  prompt: string;
  tokenizer: TokenTexts;
  nLayers: number;
  nodeThreshold: number;
  edgeThreshold: number;
  batchSize: number;
  maxNodes: number;
}

/** Any exact attribution graph in the Neuronpedia / circuit-tracer JSON shape; `extra` goes into
 * the metadata (`info` fields merge into metadata.info). */
export function exportAttributionGraph(
  raw: GraphExportInput, options: CommonExportOptions, vocabulary: UnitVocabulary,
  extra: { info?: Record<string, unknown>; metadata?: Record<string, unknown> } = {},
): AttributionGraph {
  const { tokenizer, nLayers } = options;
  const tokenText = (id: number) => tokenizer.tokenString(id);
  const ids = raw.nodes.map((n) => graphNodeId(n.kind, n.layer, n.index, n.pos, nLayers));
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
        return { ...base, feature: -1, layer: String(node.layer), feature_type: 'mlp reconstruction error', clerp: vocabulary.errorLabel(node.layer, at), activation: null };
      case 'unit':
        return {
          ...base, ...targetFields, feature: node.index, layer: String(node.layer), feature_type: vocabulary.unitType,
          clerp: vocabulary.unitLabel(node.layer, node.index, at), activation: node.activation,
        };
    }
  });
  const links = Array.from(raw.weights, (weight, k) => ({ source: ids[raw.sources[k]!]!, target: ids[raw.targets[k]!]!, weight }));
  return {
    metadata: {
      slug: `${vocabulary.slugPrefix}-${Date.now().toString(36)}`,
      scan: options.scan,
      prompt: options.prompt,
      prompt_tokens: raw.tokens.map(tokenText),
      node_threshold: options.nodeThreshold,
      schema_version: 1,
      info: { creator_name: 'Circuits XR', ...extra.info, generator: { name: 'circuits-xr', version: '0.1.0', url: '' }, create_time_ms: Date.now() },
      generation_settings: { max_n_logits: 1, desired_logit_prob: 0, batch_size: options.batchSize, max_feature_nodes: options.maxNodes },
      pruning_settings: { node_threshold: options.nodeThreshold, edge_threshold: options.edgeThreshold },
      target: { id: raw.target, text: targetText },
      distractor: { id: raw.distractor, text: distractorText },
      logit_diff: raw.logitDiff,
      ...extra.metadata,
    },
    qParams: { pinnedIds: [], supernodes: [], linkType: 'both', clickedId: '', sg_pos: '' },
    nodes,
    links,
  };
}

const idKinds = { embedding: 'embedding', logit: 'logit', aggregate: 'error', neuron: 'unit' } as const;

export function nodeId(node: RawNode, nLayers: number): string {
  return graphNodeId(idKinds[node.kind], node.layer, node.index, node.pos, nLayers);
}

const neuronVocabulary: UnitVocabulary = {
  unitType: 'mlp neuron',
  unitLabel: (layer, index, at) => `blocks.${layer}.mlp neuron ${index} at ${at}`,
  errorLabel: (layer, at) => `other neurons of blocks.${layer}.mlp at ${at}`,
  slugPrefix: 'circuits-xr',
};

export function toGraphJson(raw: RawGraph, options: ExportOptions): AttributionGraph {
  return exportAttributionGraph(
    { ...raw, targetProb: options.targetProb, nodes: raw.nodes.map((node) => ({ ...node, kind: idKinds[node.kind] })) },
    options, neuronVocabulary,
  );
}
