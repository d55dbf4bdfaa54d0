/**
 * The attribution graph JSON shape shared with Neuronpedia and circuit-tracer (INTERP.md,
 * "Attribution graph JSON"). Our own graphs use neurons as nodes ("mlp neuron") and an exact
 * aggregate node per (layer, position) for the neurons left out ("mlp reconstruction error",
 * feature −1); graphs from other tools hold "cross layer transcoder" features and true error
 * nodes. The viewer treats them all alike. Validation lives in `io.ts`; types are not validation.
 */

/** The feature types we know; foreign graphs may carry others, kept as plain strings. */
export type FeatureType =
  | 'embedding'
  | 'mlp neuron'
  | 'logit'
  | 'mlp reconstruction error'
  | 'cross layer transcoder'
  | (string & {});

/** How algorithms see a node: the four roles of circuit-tracer's node ordering. */
export type NodeKind = 'embedding' | 'feature' | 'error' | 'logit';

export interface GraphGenerator {
  name?: string;
  version?: string;
  url?: string;
}

export interface GraphInfo {
  creator?: string;
  creator_name?: string;
  creator_url?: string;
  source_urls?: string[];
  transcoder_set?: string;
  generator?: GraphGenerator;
  create_time_ms?: number;
}

export interface GenerationSettings {
  max_n_logits?: number;
  desired_logit_prob?: number;
  batch_size?: number;
  max_feature_nodes?: number;
}

export interface PruningSettings {
  node_threshold?: number;
  edge_threshold?: number;
}

/** Ours: one side of the target-vs-distractor question. */
export interface QuestionToken {
  id: number;
  text: string;
}

export interface GraphMetadata {
  slug: string;
  /** Model (or transcoder set) id. */
  scan: string;
  prompt: string;
  prompt_tokens: string[];
  /** circuit-tracer: transcoders used when `scan` is a custom list. */
  transcoder_list?: string[];
  node_threshold?: number;
  info?: GraphInfo;
  generation_settings?: GenerationSettings;
  pruning_settings?: PruningSettings;
  schema_version?: number;
  /** Ours: the question and its answer Δ = logit[target] − logit[distractor]. */
  target?: QuestionToken;
  distractor?: QuestionToken;
  logit_diff?: number;
  /** circuit-tracer's graph scores (replacement-model graphs): share of influence from embeddings
   * rather than error nodes, and influence-weighted share of node inputs from non-error nodes. */
  replacement_score?: number;
  completeness_score?: number;
}

export interface GraphQueryParams {
  pinnedIds: string[];
  /** Each supernode is [label, ...node ids]. */
  supernodes: string[][];
  linkType: string;
  clickedId: string;
  sg_pos: string;
}

/** What a node stands for, as far as its id is concerned: a unit (neuron or transcoder feature)
 * at (layer, index, pos), the error / aggregate node of (layer, pos), an embedding (index = token
 * id) or a logit (index = token id). */
export type NodeIdKind = 'unit' | 'error' | 'embedding' | 'logit';

/** The one builder of node ids, as circuit-tracer and Neuronpedia write them (see GraphNode). */
export function graphNodeId(kind: NodeIdKind, layer: number, index: number, pos: number, nLayers: number): string {
  switch (kind) {
    case 'embedding': return `E_${index}_${pos}`;
    case 'logit': return `${nLayers + 1}_${index}_${pos}`;
    case 'error': return `${layer}_-1_${pos}`;
    case 'unit': return `${layer}_${index}_${pos}`;
  }
}

export interface GraphNode {
  /** `{layer}_{index}_{pos}`, `E_{tokenId}_{pos}`, `{L+1}_{tokenId}_{pos}`, errors `{layer}_-1_{pos}`. */
  node_id: string;
  /** Unit index (token id for logits); −1 for error / aggregate nodes. */
  feature: number;
  /** Always a string: "E" for embeddings, "L+1" for logits. */
  layer: string;
  /** Prompt position. */
  ctx_idx: number;
  feature_type: FeatureType;
  /** Neuronpedia's front-end id, e.g. `0_391-0`; defaults to node_id on import. */
  jsNodeId: string;
  /** Human label. */
  clerp: string;
  /** circuit-tracer: cumulative influence share; null on logits (and when not computed). */
  influence: number | null;
  /** null on embeddings, errors and logits. */
  activation: number | null;
  token_prob: number;
  is_target_logit: boolean;
  /** circuit-tracer bookkeeping, kept when present. */
  run_idx?: number;
  reverse_ctx_idx?: number;
  /** Ours (target nodes): actual pre-activation or logit, and its constant terms. */
  actual?: number;
  constant?: number;
}

export interface GraphLink {
  source: string;
  target: string;
  weight: number;
}

export interface AttributionGraph {
  metadata: GraphMetadata;
  qParams: GraphQueryParams;
  nodes: GraphNode[];
  links: GraphLink[];
}

/** The role of a node, from its feature_type (error nodes also by feature −1). */
export function nodeKind(node: Pick<GraphNode, 'feature_type' | 'feature'>): NodeKind {
  const type = node.feature_type;
  if (type === 'embedding') return 'embedding';
  if (type === 'logit') return 'logit';
  if (type.endsWith('error') || node.feature === -1) return 'error';
  return 'feature';
}

export function defaultQueryParams(): GraphQueryParams {
  return { pinnedIds: [], supernodes: [], linkType: 'both', clickedId: '', sg_pos: '' };
}
