/**
 * The heads that write into a circuit node (circuit-heads.ts), on a seeded random graph with
 * seeded random attention rows: every head's score equals a brute-force sum over the graph's
 * links (found by node id, not through the index) of |weight| × attention from the node's
 * position to the source's, over the blocks strictly after the source's and up to the node's
 * own; same-position links add nothing; shares sum to 1 over all heads; a head whose pattern
 * puts all its weight on the sources' positions comes first.
 */
import { describe, expect, it } from 'vitest';
import { graphIndex } from '../../../shared/graph/io.js';
import { headsIntoNode } from '../../../client/analysis/state/circuit-heads.js';
import { randomGraph, seededRandom } from '../../shared/graph/random-graph.js';

const nLayers = 3;
const nHeads = 4;
const graph = randomGraph({ positions: 6, layers: nLayers, neuronsPerLayer: 30, logits: 2, density: 0.3, seed: 5 });
const index = graphIndex(graph);
const random = seededRandom(9);
// rows[q][layer][head]: a softmax-like row over keys 0..q.
const rows = Array.from({ length: 6 }, (_, q) => Array.from({ length: nLayers }, () => Array.from({ length: nHeads }, () => {
  const raw = Float32Array.from({ length: q + 1 }, () => random());
  const sum = raw.reduce((a, b) => a + b, 0);
  return raw.map((x) => x / sum);
})));
const rowOf = (q: number, layer: number, head: number) => rows[q]?.[layer]?.[head];

function bruteForce(targetId: string): Map<string, number> {
  const byId = new Map(graph.nodes.map((n) => [n.node_id, n]));
  const target = byId.get(targetId)!;
  const reads = target.feature_type === 'logit' ? nLayers - 1 : Number(target.layer);
  const scores = new Map<string, number>();
  for (const link of graph.links) {
    if (link.target !== targetId) continue;
    const source = byId.get(link.source)!;
    if (source.ctx_idx === target.ctx_idx) continue;
    const writes = source.feature_type === 'embedding' ? -1 : Number(source.layer);
    for (let m = writes + 1; m <= reads; m++) {
      for (let h = 0; h < nHeads; h++) {
        const key = `${m}/${h}`;
        scores.set(key, (scores.get(key) ?? 0) + Math.abs(link.weight) * rows[target.ctx_idx]![m]![h]![source.ctx_idx]!);
      }
    }
  }
  return scores;
}

describe('heads that write into a circuit node', () => {
  const targets = graph.nodes.filter((n) => (n.feature_type === 'mlp neuron' && Number(n.layer) >= 1 && n.ctx_idx >= 2) || n.feature_type === 'logit');

  it('scores every head as the brute-force sum of |weight| × attention over its one-hop routes', () => {
    let checked = 0;
    for (const target of targets) {
      const expected = bruteForce(target.node_id);
      const heads = headsIntoNode(graph, index, [index.indexOf.get(target.node_id)!], rowOf, { nLayers, nHeads }, nLayers * nHeads);
      const total = [...expected.values()].reduce((a, b) => a + b, 0);
      if (total === 0) {
        expect(heads).toEqual([]);
        continue;
      }
      checked++;
      expect(heads.length).toBe([...expected.values()].filter((s) => s > 0).length);
      for (const head of heads) {
        expect(head.score).toBeCloseTo(expected.get(`${head.layer}/${head.head}`)!, 9);
        expect(head.share).toBeCloseTo(head.score / total, 9);
      }
      expect(heads.reduce((a, h) => a + h.share, 0)).toBeCloseTo(1, 9);
      for (let i = 1; i < heads.length; i++) expect(heads[i - 1]!.score).toBeGreaterThanOrEqual(heads[i]!.score);
      // No head of a block after the node's own, none at or before a source's block.
      const reads = target.feature_type === 'logit' ? nLayers - 1 : Number(target.layer);
      expect(heads.every((h) => h.layer <= reads)).toBe(true);
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('puts first the head that attends to the sources', () => {
    const fromZero = (id: string) => graph.links.some((l) => l.target === id && l.weight !== 0 && graph.nodes[index.indexOf.get(l.source)!]!.ctx_idx === 0);
    const target = targets.find((t) => t.feature_type === 'mlp neuron' && Number(t.layer) === nLayers - 1 && fromZero(t.node_id))!;
    expect(target).toBeDefined();
    const q = target.ctx_idx;
    // Head 2 of the last block looks only at key 0; every other head only at q itself.
    const focused = (query: number, layer: number, head: number) => {
      const row = new Float32Array(query + 1);
      if (layer === nLayers - 1 && head === 2) row[0] = 1;
      else row[query] = 1;
      return row;
    };
    expect(q).toBeGreaterThan(0);
    const heads = headsIntoNode(graph, index, [index.indexOf.get(target.node_id)!], focused, { nLayers, nHeads });
    expect(heads).toEqual([{ layer: nLayers - 1, head: 2, score: expect.any(Number), share: 1 }]);
  });
});
