/**
 * Where each attribution-graph node is drawn (metres, the scene layout's frame):
 * - embeddings on the token rail at their position (ctx_idx);
 * - our neurons (`mlp neuron`, within the model's shape) at their place in the layer cloud;
 * - aggregates and error nodes at the layer's centre height, at their position's rail x;
 * - features of the loaded transcoders (a graph traced over them), while the feature clouds are
 *   shown, at their place in the layer's feature cloud (feature-layout.ts);
 * - other units (transcoder features, neurons of another model) in their layer's slab at their
 *   position's rail x, spread vertically by a hash of the feature id;
 * - logits in front of the prediction board.
 * Graphs deeper than the model (imported from another tool) are squeezed into the model's depth.
 * Pure: a graph and a layout in, [N * 3] positions out, in the graph's node order.
 */
import { Vector3 } from 'three';
import { nodeKind, type AttributionGraph } from '../../../shared/graph/schema.js';
import { neuronPosition, tokenPosition, type SceneLayout } from '../../scene/layout.js';
import { featurePosition, type FeatureLayout } from '../../scene/feature-layout.js';

export interface CircuitPlacement {
  /** [N * 3] world positions, graph node order. */
  positions: Float32Array;
  /** Tokens the graph spans (its prompt, or the largest ctx_idx + 1). */
  tokenCount: number;
  /** Layer depth factor applied (1 = the graph's layers are the model's layers). */
  layerScale: number;
}

/** A stable pseudo-random fraction in [0, 1) of an integer (for spreading foreign units). */
function hashFraction(value: number, salt: number): number {
  let h = Math.imul(value ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(salt + 1, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x27d4eb2f);
  h ^= h >>> 13;
  return (h >>> 0) / 4294967296;
}

/** `features`: the feature clouds as drawn, when the graph's features are the loaded transcoders' own. */
export function placeCircuit(graph: AttributionGraph, layout: SceneLayout, features: FeatureLayout | null = null): CircuitPlacement {
  const nodes = graph.nodes;
  const kinds = nodes.map(nodeKind);
  let maxCtx = 0;
  let maxLayer = 0;
  for (let i = 0; i < nodes.length; i++) {
    maxCtx = Math.max(maxCtx, nodes[i]!.ctx_idx);
    if (kinds[i] === 'feature' || kinds[i] === 'error') {
      const layer = Number(nodes[i]!.layer);
      if (Number.isFinite(layer)) maxLayer = Math.max(maxLayer, layer);
    }
  }
  const tokenCount = Math.max(graph.metadata.prompt_tokens.length, maxCtx + 1);
  const modelDepth = Math.max(0, layout.nLayers - 1);
  const layerScale = maxLayer > modelDepth && maxLayer > 0 ? modelDepth / maxLayer : 1;
  const layerZ = (layer: number) => layout.firstLayerZ - layer * layerScale * layout.layerGap;

  const logitIds = nodes.flatMap((node, i) => (kinds[i] === 'logit' ? [i] : []));
  const logitRank = new Map(logitIds.map((i, rank) => [i, rank]));
  const positions = new Float32Array(nodes.length * 3);
  const v = new Vector3();
  const halfSlab = Math.max(layout.slabHeight / 2, 0.3);
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    const kind = kinds[i]!;
    const layer = Number(node.layer);
    const railX = tokenPosition(layout, node.ctx_idx, tokenCount, v).x;
    if (kind === 'embedding') {
      tokenPosition(layout, node.ctx_idx, tokenCount, v);
    } else if (kind === 'logit') {
      const rank = logitRank.get(i) ?? 0;
      v.set((rank - (logitIds.length - 1) / 2) * 0.3, layout.centreY - 0.75, layout.boardZ + 0.15);
    } else if (!Number.isFinite(layer)) {
      v.set(railX, layout.centreY, layerZ(0));
    } else if (kind === 'error') {
      v.set(railX, layout.centreY, layerZ(layer));
    } else if (features && node.feature_type === 'cross layer transcoder' && layerScale === 1 && layer < layout.nLayers && node.feature >= 0 && node.feature < features.grid.neuronsPerLayer) {
      featurePosition(features, layer, node.feature, v);
    } else if (node.feature_type === 'mlp neuron' && layerScale === 1 && layer < layout.nLayers && node.feature >= 0 && node.feature < layout.neuronsPerLayer) {
      neuronPosition(layout, layer, node.feature, v);
    } else {
      const jitter = (hashFraction(node.feature, layer) - 0.5) * layout.tokenSpacing * 0.7;
      const height = (hashFraction(node.feature, layer + 7919) - 0.5) * 2 * halfSlab;
      v.set(railX + jitter, layout.centreY + height, layerZ(layer));
    }
    positions[i * 3] = v.x;
    positions[i * 3 + 1] = v.y;
    positions[i * 3 + 2] = v.z;
  }
  return { positions, tokenCount, layerScale };
}
