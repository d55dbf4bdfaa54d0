/**
 * The circuit views' shared model (circuit-view.ts) and the 2D layout (circuit-2d-layout.ts) on
 * seeded random graphs: supernodes merge their members' links by summing weights (checked
 * against a brute-force sum over the kept links) and drop the links inside the group; lists put
 * aggregates after every unit; labels read in words; the layout keeps every node inside the
 * panel, embeddings at the bottom, logits at the top, and never puts two nodes on one spot.
 */
import { describe, expect, it } from 'vitest';
import { graphIndex } from '../../../shared/graph/io.js';
import { pruneGraph } from '../../../shared/graph/prune.js';
import { layout2D } from '../../../client/analysis/state/circuit-2d-layout.js';
import { buildView, layerOrder, longLabel, rankedForList, shortLabel } from '../../../client/analysis/state/circuit-view.js';
import { randomGraph } from '../../shared/graph/random-graph.js';

const graph = randomGraph({ positions: 6, layers: 3, neuronsPerLayer: 40, logits: 3, density: 0.2, seed: 7 });
const index = graphIndex(graph);
const prune = pruneGraph(index, { maxNodes: 30 });

describe('circuit view', () => {
  it('shows exactly the kept nodes and links when nothing is grouped', () => {
    const view = buildView(graph, index, prune, []);
    expect(view.nodes.map((n) => n.id).sort()).toEqual([...prune.keptNodeIds].sort());
    expect(view.links.length).toBe(prune.keptLinks.length);
    const units = view.nodes.filter((n) => n.kind === 'feature' || n.kind === 'error').length;
    expect(units).toBeLessThanOrEqual(30);
  });

  it('merges a supernode: summed weights across the group, none inside it', () => {
    const features = prune.keptNodeIds.filter((id) => index.kinds[index.indexOf.get(id)!] === 'feature');
    const members = features.slice(0, 3);
    expect(members.length).toBe(3);
    const view = buildView(graph, index, prune, [['g', ...members]]);
    expect(view.nodes.length).toBe(prune.keptNodeIds.length - 2);
    const group = view.nodes.findIndex((n) => n.id === 'group:g');
    expect(view.nodes[group]!.members.length).toBe(3);
    const inGroup = new Set(members);
    const key = (id: string) => (inGroup.has(id) ? 'group:g' : id);
    // Brute force: every kept link's weight lands on its (merged) endpoints, unless inside the group.
    const expected = new Map<string, number>();
    let inside = 0;
    for (const link of prune.keptLinks) {
      const pair = `${key(link.source)}→${key(link.target)}`;
      if (key(link.source) === key(link.target)) inside++;
      else expected.set(pair, (expected.get(pair) ?? 0) + link.weight);
    }
    const got = new Map(view.links.map((l) => [`${view.nodes[l.source]!.id}→${view.nodes[l.target]!.id}`, l.weight]));
    expect(got.size).toBe(expected.size);
    for (const [pair, weight] of expected) expect(got.get(pair)).toBeCloseTo(weight, 9);
    expect(view.links.every((l) => l.source !== l.target)).toBe(true);
    expect(view.links.reduce((n, l) => n + l.rows.length, 0)).toBe(prune.keptLinks.length - inside);
  });

  it('lists units by influence, then the aggregates; labels in words', () => {
    const ranked = rankedForList(index, prune);
    const kinds = ranked.map((id) => index.kinds[index.indexOf.get(id)!]);
    const firstError = kinds.indexOf('error');
    if (firstError >= 0) expect(kinds.slice(firstError).every((k) => k === 'error')).toBe(true);
    const units = ranked.filter((_, i) => kinds[i] === 'feature');
    for (let i = 1; i < units.length; i++) expect(prune.nodeInfluence.get(units[i - 1]!)!).toBeGreaterThanOrEqual(prune.nodeInfluence.get(units[i]!)!);
    const aggregate = graph.nodes.find((n) => n.feature === -1)!;
    expect(longLabel(aggregate, graph)).toBe(`other neurons of layer ${aggregate.layer} at «${graph.metadata.prompt_tokens[aggregate.ctx_idx]}»`);
    expect(shortLabel(aggregate, graph)).toBe(`other L${aggregate.layer}`);
    const neuron = graph.nodes.find((n) => n.feature_type === 'mlp neuron')!;
    expect(shortLabel(neuron, graph)).toBe(`L${neuron.layer}/N${neuron.feature}`);
    expect(['logit', 'L10', 'L2', 'emb'].sort((a, b) => layerOrder(a) - layerOrder(b))).toEqual(['emb', 'L2', 'L10', 'logit']);
  });

  it('lays the grid out inside the panel: tokens at the bottom, logits on top, no two nodes on one spot', () => {
    const view = buildView(graph, index, prune, []);
    const width = 560;
    const height = 300;
    const layout = layout2D(view, graph.metadata.prompt_tokens.length, width, height);
    const spots = new Set<string>();
    let embeddingY = -Infinity;
    let logitY = Infinity;
    let otherMin = Infinity;
    let otherMax = -Infinity;
    view.nodes.forEach((node, v) => {
      const x = layout.points[v * 2]!;
      const y = layout.points[v * 2 + 1]!;
      expect(x).toBeGreaterThan(0);
      expect(x).toBeLessThan(width);
      expect(y).toBeGreaterThan(0);
      expect(y).toBeLessThan(height);
      spots.add(`${x.toFixed(1)},${y.toFixed(1)}`);
      if (node.kind === 'embedding') embeddingY = Math.max(embeddingY, y);
      else if (node.kind === 'logit') logitY = Math.min(logitY, y);
      else { otherMin = Math.min(otherMin, y); otherMax = Math.max(otherMax, y); }
      // Column = position: the node sits in its token's column.
      const column = layout.columns[node.position]!;
      expect(x).toBeGreaterThanOrEqual(column.x);
      expect(x).toBeLessThanOrEqual(column.x + column.width);
    });
    expect(spots.size).toBe(view.nodes.length);
    expect(embeddingY).toBeGreaterThan(otherMax);
    expect(logitY).toBeLessThan(otherMin);
  });
});
