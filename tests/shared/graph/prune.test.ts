import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { graphIndex, importGraph } from '../../../shared/graph/io.js';
import { applyPrune, findThreshold, pruneGraph } from '../../../shared/graph/prune.js';
import type { AttributionGraph, GraphNode } from '../../../shared/graph/schema.js';
import { nodeKind } from '../../../shared/graph/schema.js';
import { randomGraph, seededRandom } from './random-graph.js';

// ---------------------------------------------------------------------------------------------
// A hand-made DAG. Single logit L, so w[L] = 1.
//   E0 → A: 1,  E1 → A: −1          row A: |1|+|−1| = 2   Â[A,E0] = Â[A,E1] = 0.5
//   A → B: 2,   E1 → B: 2           row B: 4              Â[B,A] = Â[B,E1] = 0.5
//   E1 → C: −3                      row C: 3              Â[C,E1] = 1
//   E0 → D: 1                       row D: 1              Â[D,E0] = 1
//   A → L: 4, B → L: −3, C → L: 2, D → L: 1   row L: 10   Â[L,·] = .4, .3, .2, .1
// y = w + y·Â (targets before sources):
//   y[L] = 1; y[D] = .1; y[C] = .2; y[B] = .3; y[A] = .4 + .5·y[B] = .55
//   y[E0] = .5·y[A] + 1·y[D] = .375;  y[E1] = .5·y[A] + .5·y[B] + 1·y[C] = .625
// I = y − w: A .55, B .3, C .2, D .1, E0 .375, E1 .625, L 0.
// Candidates (features) total 1.15; sorted A, B, C, D; cumulative shares
//   .55/1.15 = .478, .85/1.15 = .739, 1.05/1.15 = .913, 1.
// nodeThreshold .8 → first share ≥ .8 is C's → keep A, B, C (drop D).
// Pruned graph (no D): row L = 4+3+2 = 9, Â[L,A] = 4/9, Â[L,B] = 1/3, Â[L,C] = 2/9;
//   y'[L] = 1, y'[C] = 2/9, y'[B] = 1/3, y'[A] = 4/9 + .5·1/3 = 11/18.
// Edge scores Â[t,s]·y'[t], in 36ths: A→L 16, B→L 12, C→L 8, A→B 6, E1→B 6, E1→C 8,
//   E0→A 11, E1→A 11; total 78. Sorted 16,12,11,11,8,8,6,6; cumulative 16,28,39,50,58,66,72,78.
// edgeThreshold .98 → needs 76.44 → the last → keep all 8.
// edgeThreshold .8 → needs 62.4 → 66 (score 8) → drop A→B and E1→B; then B has no incoming edge
//   and is dropped with B→L. Kept: E0→A, E1→A, E1→C, A→L, C→L (16+8+11+11+8 = 54 of 78).
// ---------------------------------------------------------------------------------------------
function node(node_id: string, feature_type: string, layer: string, ctx_idx: number, token_prob = 0): GraphNode {
  return { node_id, feature: 0, layer, ctx_idx, feature_type, jsNodeId: node_id, clerp: '', influence: null, activation: null, token_prob, is_target_logit: false };
}
function handGraph(): AttributionGraph {
  const links: [string, string, number][] = [
    ['E0', 'A', 1], ['E1', 'A', -1], ['A', 'B', 2], ['E1', 'B', 2], ['E1', 'C', -3], ['E0', 'D', 1],
    ['A', 'L', 4], ['B', 'L', -3], ['C', 'L', 2], ['D', 'L', 1],
  ];
  return {
    metadata: { slug: 'hand', scan: 'none', prompt: 'a b', prompt_tokens: ['a', 'b'] },
    qParams: { pinnedIds: [], supernodes: [], linkType: 'both', clickedId: '', sg_pos: '' },
    nodes: [node('E0', 'embedding', 'E', 0), node('E1', 'embedding', 'E', 1), node('A', 'mlp neuron', '0', 0),
      node('B', 'mlp neuron', '1', 1), node('C', 'mlp neuron', '1', 1), node('D', 'mlp neuron', '1', 1), node('L', 'logit', '3', 1, 0.3)],
    links: links.map(([source, target, weight]) => ({ source, target, weight })),
  };
}
const linkKey = (l: { source: string; target: string }) => `${l.source}→${l.target}`;

describe('pruneGraph on a hand-computed DAG', () => {
  it('computes the influences by hand', () => {
    const result = pruneGraph(handGraph());
    const expected: Record<string, number> = { E0: 0.375, E1: 0.625, A: 0.55, B: 0.3, C: 0.2, D: 0.1, L: 0 };
    for (const [id, value] of Object.entries(expected)) expect(result.nodeInfluence.get(id)).toBeCloseTo(value, 12);
    // circuit-tracer's cumulative shares over all nodes (total 2.15): E1, A, E0, B, C, D.
    const cumulative: Record<string, number> = { E1: 0.625 / 2.15, A: 1.175 / 2.15, E0: 1.55 / 2.15, B: 1.85 / 2.15, C: 2.05 / 2.15, D: 1 };
    for (const [id, value] of Object.entries(cumulative)) expect(result.cumulativeInfluence.get(id)).toBeCloseTo(value, 12);
    expect(result.cumulativeInfluence.has('L')).toBe(false);
  });

  it('node threshold .8, edge threshold .98: drops D only', () => {
    const result = pruneGraph(handGraph(), { nodeThreshold: 0.8, edgeThreshold: 0.98 });
    expect(result.keptNodeIds).toEqual(['E0', 'E1', 'A', 'B', 'C', 'L']);
    expect(result.keptLinks.map(linkKey)).toEqual(['E0→A', 'E1→A', 'A→B', 'E1→B', 'E1→C', 'A→L', 'B→L', 'C→L']);
    expect(result.nodeCoverage).toBeCloseTo(1.05 / 1.15, 12);
    expect(result.selectedNodeCoverage).toBeCloseTo(1.05 / 1.15, 12);
    expect(result.edgeCoverage).toBeCloseTo(1, 12);
  });

  it('edge threshold .8: drops the weak edges into B, then B itself', () => {
    const result = pruneGraph(handGraph(), { nodeThreshold: 0.8, edgeThreshold: 0.8 });
    expect(result.keptNodeIds).toEqual(['E0', 'E1', 'A', 'C', 'L']);
    expect(result.keptLinks.map(linkKey)).toEqual(['E0→A', 'E1→A', 'E1→C', 'A→L', 'C→L']);
    expect(Array.from(result.keptLinkIndices)).toEqual([0, 1, 4, 6, 8]);
    expect(result.edgeCoverage).toBeCloseTo(54 / 78, 12);
    expect(result.nodeCoverage).toBeCloseTo(0.75 / 1.15, 12);
    expect(result.selectedNodeCoverage).toBeCloseTo(1.05 / 1.15, 12);
  });

  it('node threshold .5 keeps A and B (shares .478, .739)', () => {
    expect(pruneGraph(handGraph(), { nodeThreshold: 0.5 }).keptNodeIds).toEqual(['E0', 'E1', 'A', 'B', 'L']);
  });

  it("thresholdScope 'all' ranks embeddings too, as circuit-tracer does: .8 → cut at B (.860), drops C", () => {
    expect(pruneGraph(handGraph(), { nodeThreshold: 0.8, thresholdScope: 'all' }).keptNodeIds).toEqual(['E0', 'E1', 'A', 'B', 'L']);
  });

  it('pins and caps', () => {
    expect(pruneGraph(handGraph(), { nodeThreshold: 0.8, pinnedIds: ['D'] }).keptNodeIds).toEqual(['E0', 'E1', 'A', 'B', 'C', 'D', 'L']);
    // Cap 1: only A; pruned graph E0→A, E1→A, A→L, all kept.
    const capped = pruneGraph(handGraph(), { nodeThreshold: 0.8, maxNodes: 1 });
    expect(capped.keptNodeIds).toEqual(['E0', 'E1', 'A', 'L']);
    expect(capped.keptLinks.map(linkKey)).toEqual(['E0→A', 'E1→A', 'A→L']);
    expect(capped.nodeCoverage).toBeCloseTo(0.55 / 1.15, 12);
    expect(() => pruneGraph(handGraph(), { pinnedIds: ['Z'] })).toThrow('pinned id "Z" is not a node');
  });

  it('rejects bad thresholds and cycles', () => {
    expect(() => pruneGraph(handGraph(), { nodeThreshold: 1.2 })).toThrow('nodeThreshold must be between 0 and 1');
    const cyclic = handGraph();
    cyclic.links.push({ source: 'B', target: 'A', weight: 1 });
    expect(() => pruneGraph(cyclic)).toThrow(/cycle/);
  });

  it('applyPrune writes the cumulative influence into the kept nodes', () => {
    const graph = handGraph();
    const pruned = applyPrune(graph, pruneGraph(graph));
    expect(pruned.nodes.map((n) => n.node_id)).toEqual(['E0', 'E1', 'A', 'B', 'C', 'L']);
    expect(pruned.nodes.find((n) => n.node_id === 'A')!.influence).toBeCloseTo(1.175 / 2.15, 12);
    expect(pruned.nodes.find((n) => n.node_id === 'L')!.influence).toBeNull();
  });
});

describe('findThreshold', () => {
  it('has find_threshold semantics', () => {
    const scores = Float64Array.from([1, 4, 2, 3]); // sorted 4,3,2,1; shares .4,.7,.9,1
    expect(findThreshold(scores, 0)).toBe(4);
    expect(findThreshold(scores, 0.4)).toBe(4);
    expect(findThreshold(scores, 0.41)).toBe(3);
    expect(findThreshold(scores, 0.9)).toBe(2);
    expect(findThreshold(scores, 1)).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------
// A separate, straightforward dense reference: plain arrays, explicit matrix powers, circuit-tracer's
// masks. Only the edge threshold is taken over existing links (the sparse definition).
// ---------------------------------------------------------------------------------------------
function matmul(a: number[][], b: number[][]): number[][] {
  const n = a.length;
  const out = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) { const v = a[i]![k]!; if (v !== 0) for (let j = 0; j < n; j++) out[i]![j]! += v * b[k]![j]!; }
  return out;
}
function normaliseRows(a: number[][]): number[][] {
  return a.map((row) => { const sum = row.reduce((s, v) => s + Math.abs(v), 0); return row.map((v) => (sum > 0 ? Math.abs(v) / sum : 0)); });
}
/** w · (Â + Â² + …) by explicit powers of Â. */
function influenceByPowers(aHat: number[][], w: number[]): number[] {
  const n = w.length;
  const influence = new Array<number>(n).fill(0);
  let power = aHat;
  for (let step = 0; step <= n; step++) {
    let any = false;
    for (let s = 0; s < n; s++) for (let t = 0; t < n; t++) { if (power[t]![s] !== 0) any = true; influence[s]! += w[t]! * power[t]![s]!; }
    if (!any) return influence;
    power = matmul(power, aHat);
  }
  throw new Error('powers did not vanish');
}
function referenceThreshold(scores: number[], threshold: number): number {
  const sorted = [...scores].sort((a, b) => b - a);
  if (threshold >= 1) return sorted[sorted.length - 1]!;
  const total = sorted.reduce((a, b) => a + b, 0);
  let cumulative = 0;
  for (const s of sorted) { cumulative += s; if (cumulative / total >= threshold) return s; }
  return sorted[sorted.length - 1]!;
}
function densePrune(graph: AttributionGraph, nodeThreshold: number, edgeThreshold: number) {
  const n = graph.nodes.length;
  const id = new Map(graph.nodes.map((node, i) => [node.node_id, i]));
  const kinds = graph.nodes.map(nodeKind);
  const A = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const exists = Array.from({ length: n }, () => new Array<boolean>(n).fill(false));
  for (const l of graph.links) { A[id.get(l.target)!]![id.get(l.source)!] = l.weight; exists[id.get(l.target)!]![id.get(l.source)!] = true; }
  const logits = kinds.flatMap((k, i) => (k === 'logit' ? [i] : []));
  const w = graph.nodes.map((node, i) => (kinds[i] === 'logit' ? (logits.length === 1 ? 1 : node.token_prob) : 0));
  const I = influenceByPowers(normaliseRows(A), w);
  const candidates = kinds.flatMap((k, i) => (k === 'feature' || k === 'error' ? [i] : []));
  const cut = referenceThreshold(candidates.map((i) => I[i]!), nodeThreshold);
  const nodeMask = kinds.map((k, i) => k === 'embedding' || k === 'logit' || I[i]! >= cut);
  const selected = [...nodeMask];
  const pruned = A.map((row, t) => row.map((v, s) => (nodeMask[t] && nodeMask[s] ? v : 0)));
  const prunedHat = normaliseRows(pruned);
  const prunedI = influenceByPowers(prunedHat, w);
  const score = (t: number, s: number) => prunedHat[t]![s]! * (prunedI[t]! + w[t]!);
  const alive: [number, number][] = [];
  for (let t = 0; t < n; t++) for (let s = 0; s < n; s++) if (exists[t]![s] && nodeMask[t] && nodeMask[s]) alive.push([t, s]);
  const edgeCut = referenceThreshold(alive.map(([t, s]) => score(t, s)), edgeThreshold);
  const edgeMask = Array.from({ length: n }, () => new Array<boolean>(n).fill(false));
  for (const [t, s] of alive) if (score(t, s) >= edgeCut) edgeMask[t]![s] = true;
  // circuit-tracer's loop: whole-mask passes until nothing changes.
  for (let changed = true; changed;) {
    changed = false;
    for (let t = 0; t < n; t++) for (let s = 0; s < n; s++) if (!nodeMask[t] || !nodeMask[s]) edgeMask[t]![s] = false;
    const next = nodeMask.map((keep, j) => {
      if (!keep || kinds[j] === 'embedding' || kinds[j] === 'logit') return keep;
      const hasOut = edgeMask.some((row) => row[j]);
      const hasIn = edgeMask[j]!.some(Boolean);
      return hasOut && (kinds[j] !== 'feature' || hasIn);
    });
    if (next.some((v, j) => v !== nodeMask[j])) { changed = true; next.forEach((v, j) => (nodeMask[j] = v)); }
  }
  const total = candidates.reduce((sum, i) => sum + I[i]!, 0);
  const keptIds = graph.nodes.filter((_, i) => nodeMask[i]).map((node) => node.node_id);
  const keptLinks = graph.links.filter((l) => edgeMask[id.get(l.target)!]![id.get(l.source)!]).map(linkKey);
  return {
    influence: I, keptIds, keptLinks,
    coverage: candidates.reduce((sum, i) => sum + (nodeMask[i] ? I[i]! : 0), 0) / total,
    selectedCoverage: candidates.reduce((sum, i) => sum + (selected[i] ? I[i]! : 0), 0) / total,
  };
}

describe('pruneGraph against a dense matrix-power reference on random DAGs', () => {
  const graphs = [11, 12, 13].map((seed) => randomGraph({ positions: 4, layers: 5, neuronsPerLayer: 10, logits: 3, density: 0.25, seed }));

  it('graphs are ~60 nodes', () => {
    for (const g of graphs) expect(g.nodes.length).toBeGreaterThanOrEqual(55);
  });

  for (const [g, seedIndex] of [[0, 0], [1, 1], [2, 2]] as const) {
    for (const nodeThreshold of [0.3, 0.5, 0.8, 0.95]) {
      for (const edgeThreshold of [0.9, 0.98]) {
        it(`graph ${seedIndex}, node ${nodeThreshold}, edge ${edgeThreshold}`, () => {
          const graph = graphs[g]!;
          const reference = densePrune(graph, nodeThreshold, edgeThreshold);
          const result = pruneGraph(graph, { nodeThreshold, edgeThreshold });
          graph.nodes.forEach((node, i) => expect(result.nodeInfluence.get(node.node_id), node.node_id).toBeCloseTo(reference.influence[i]!, 10));
          expect(result.keptNodeIds).toEqual(reference.keptIds);
          expect(result.keptLinks.map(linkKey)).toEqual(reference.keptLinks);
          expect(result.nodeCoverage).toBeCloseTo(reference.coverage, 10);
          expect(result.selectedNodeCoverage).toBeCloseTo(reference.selectedCoverage, 10);
          expect(result.selectedNodeCoverage).toBeGreaterThanOrEqual(nodeThreshold);
          for (const node of graph.nodes) {
            if (node.feature_type === 'embedding' || node.feature_type === 'logit') expect(result.keptNodeIds).toContain(node.node_id);
          }
          // Non-trivial: something is pruned at the lower thresholds.
          if (nodeThreshold <= 0.5) expect(result.keptNodeIds.length).toBeLessThan(graph.nodes.length);
        });
      }
    }
  }

  it('a higher node threshold keeps a superset', () => {
    for (const graph of graphs) {
      let previous = new Set<string>();
      for (const nodeThreshold of [0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.99, 1]) {
        // Edge threshold 1 keeps every edge, so only the node threshold decides.
        const kept = new Set(pruneGraph(graph, { nodeThreshold, edgeThreshold: 1 }).keptNodeIds);
        for (const id of previous) expect(kept.has(id), `${id} at ${nodeThreshold}`).toBe(true);
        previous = kept;
      }
      // And the selection before edge pruning is monotone at the default edge threshold too.
      let coverage = 0;
      for (const nodeThreshold of [0.1, 0.3, 0.5, 0.7, 0.9]) {
        const next = pruneGraph(graph, { nodeThreshold }).selectedNodeCoverage;
        expect(next).toBeGreaterThanOrEqual(coverage);
        coverage = next;
      }
    }
  });
});

describe('pruneGraph on the circuit-tracer fixture', () => {
  it('prunes it, keeping embeddings and logits', () => {
    const graph = importGraph(JSON.parse(readFileSync(new URL('./fixtures/circuit-tracer-like.json', import.meta.url), 'utf8')));
    const result = pruneGraph(graph, { pinnedIds: graph.qParams.pinnedIds });
    for (const node of graph.nodes) if (node.feature_type === 'embedding' || node.feature_type === 'logit') expect(result.keptNodeIds).toContain(node.node_id);
    expect(result.keptNodeIds).toContain('20_15589_5');
    expect(result.selectedNodeCoverage).toBeGreaterThanOrEqual(0.8);
  });
});

describe('pruneGraph speed', () => {
  it('1,000 nodes and 300,000 links prune to the same graph from an index and from the graph', () => {
    const random = seededRandom(3);
    const positions = 10;
    const layers = 12;
    const nodes: GraphNode[] = [];
    for (let p = 0; p < positions; p++) nodes.push(node(`E_${p}_${p}`, 'embedding', 'E', p));
    for (let i = 0; nodes.length < 990; i++) nodes.push(node(`${i % layers}_${i}_${i % positions}`, 'mlp neuron', String(i % layers), i % positions));
    for (let j = 0; j < 10; j++) nodes.push(node(`${layers + 1}_${j}_${positions - 1}`, 'logit', String(layers + 1), positions - 1, 0.1));
    // Links go from lower to higher node index (a DAG); sample 300k distinct pairs.
    const n = nodes.length;
    const seen = new Set<number>();
    const links = [];
    while (links.length < 300_000) {
      const a = Math.floor(random() * n);
      const b = Math.floor(random() * n);
      if (a === b) continue;
      const s = Math.min(a, b);
      const t = Math.max(a, b);
      if (nodes[t]!.feature_type === 'embedding' || nodes[s]!.feature_type === 'logit' || seen.has(s * n + t)) continue;
      seen.add(s * n + t);
      links.push({ source: nodes[s]!.node_id, target: nodes[t]!.node_id, weight: (random() - 0.5) * Math.exp(4 * random()) });
    }
    const graph: AttributionGraph = { ...handGraph(), nodes, links };
    const index = graphIndex(graph);
    pruneGraph(index); // warm up the JIT
    const start = performance.now();
    const result = pruneGraph(index, { nodeThreshold: 0.8, edgeThreshold: 0.98 });
    const indexed = performance.now() - start;
    const startFull = performance.now();
    pruneGraph(graph, { nodeThreshold: 0.8, edgeThreshold: 0.98 });
    const fromGraph = performance.now() - startFull;
    console.log(`prune 1000 nodes / 300k links: ${indexed.toFixed(0)} ms from an index, ${fromGraph.toFixed(0)} ms from the graph; kept ${result.keptNodeIds.length} nodes, ${result.keptLinks.length} links`);
    expect(result.keptLinks.length).toBeGreaterThan(0);
    // Timings are printed, not asserted: speed is the benchmark's business on a shared machine.
    // What must hold is that both entry points prune to the same graph.
    const again = pruneGraph(graph, { nodeThreshold: 0.8, edgeThreshold: 0.98 });
    expect(again.keptNodeIds).toEqual(result.keptNodeIds);
    expect(again.keptLinks.length).toBe(result.keptLinks.length);
  });
});
