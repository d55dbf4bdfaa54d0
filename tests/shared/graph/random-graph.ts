/**
 * Seeded random attribution graphs in our own shape (embeddings → MLP neurons by layer →
 * logits, plus aggregate "mlp reconstruction error" nodes), for round-trip and pruning tests.
 */
import type { AttributionGraph, GraphLink, GraphNode } from '../../../shared/graph/schema.js';

/** mulberry32: small, seeded, good enough for test data. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RandomGraphShape {
  positions: number;
  layers: number;
  /** Neuron nodes per layer (spread over positions). */
  neuronsPerLayer: number;
  logits: number;
  /** Probability that an allowed (earlier → later) link exists. */
  density: number;
  seed: number;
}

export function randomGraph(shape: RandomGraphShape): AttributionGraph {
  const random = seededRandom(shape.seed);
  const { positions, layers, logits } = shape;
  const nodes: GraphNode[] = [];
  // "rank" orders nodes so links only go from lower to higher rank (a DAG).
  const rank: number[] = [];
  const base = { influence: null, activation: null, token_prob: 0, is_target_logit: false };
  for (let p = 0; p < positions; p++) {
    const token = 100 + p;
    nodes.push({ ...base, node_id: `E_${token}_${p}`, feature: token, layer: 'E', ctx_idx: p, feature_type: 'embedding', jsNodeId: `E_${token}-${p}`, clerp: `Emb: "t${p}"` });
    rank.push(0);
  }
  for (let l = 0; l < layers; l++) {
    for (let i = 0; i < shape.neuronsPerLayer; i++) {
      const p = Math.floor(random() * positions);
      const index = i * 7 + 3;
      nodes.push({ ...base, node_id: `${l}_${index}_${p}`, feature: index, layer: String(l), ctx_idx: p, feature_type: 'mlp neuron', jsNodeId: `${l}_${index}-${p}`, clerp: `blocks.${l}.mlp neuron ${index}`, activation: Math.round((random() * 4 - 1) * 1e6) / 1e6 });
      rank.push(1 + l);
    }
    const p = l % positions;
    nodes.push({ ...base, node_id: `${l}_-1_${p}`, feature: -1, layer: String(l), ctx_idx: p, feature_type: 'mlp reconstruction error', jsNodeId: `${l}_-1-${p}`, clerp: `other neurons of blocks.${l}.mlp` });
    rank.push(1 + l);
  }
  const probs = Array.from({ length: logits }, () => random() + 0.05);
  const probTotal = probs.reduce((a, b) => a + b, 0) * 1.25;
  for (let j = 0; j < logits; j++) {
    const token = 500 + j;
    const prob = probs[j]! / probTotal;
    nodes.push({ ...base, node_id: `${layers + 1}_${token}_${positions - 1}`, feature: token, layer: String(layers + 1), ctx_idx: positions - 1, feature_type: 'logit', jsNodeId: `L_${token}-${positions - 1}`, clerp: `Output "x${j}" (p=${prob.toFixed(3)})`, token_prob: prob, is_target_logit: j === 0 });
    rank.push(layers + 1);
  }
  const links: GraphLink[] = [];
  for (let t = 0; t < nodes.length; t++) {
    for (let s = 0; s < nodes.length; s++) {
      const target = nodes[t]!;
      const source = nodes[s]!;
      if (rank[s]! >= rank[t]! || source.ctx_idx > target.ctx_idx) continue;
      if (source.feature_type === 'logit' || target.feature_type === 'embedding' || target.feature_type === 'mlp reconstruction error') continue;
      if (random() >= shape.density) continue;
      // A heavy-tailed magnitude so influence is concentrated, as in real graphs.
      const magnitude = Math.exp(3 * random()) * random();
      links.push({ source: source.node_id, target: target.node_id, weight: (random() < 0.3 ? -1 : 1) * Math.round(magnitude * 1e6) / 1e6 });
    }
  }
  return {
    metadata: {
      slug: `random-${shape.seed}`, scan: 'random-model', prompt: 'random prompt', prompt_tokens: Array.from({ length: positions }, (_, p) => `t${p}`),
      node_threshold: 0.8, schema_version: 1,
      info: { creator_name: 'Circuits XR', generator: { name: 'circuits-xr', version: '0.1.0', url: '' }, create_time_ms: 1700000000000 },
      generation_settings: { max_n_logits: logits, desired_logit_prob: 0.95, batch_size: 64, max_feature_nodes: 1000 },
      pruning_settings: { node_threshold: 0.8, edge_threshold: 0.98 },
      target: { id: 500, text: 'x0' }, distractor: { id: 501, text: 'x1' }, logit_diff: 1.5,
    },
    qParams: { pinnedIds: [], supernodes: [['group', nodes[positions]!.node_id]], linkType: 'both', clickedId: '', sg_pos: '' },
    nodes,
    links,
  };
}
