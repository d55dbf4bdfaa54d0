import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { exportGraph, GraphImportError, graphIndex, importGraph } from '../../../shared/graph/io.js';
import { nodeKind } from '../../../shared/graph/schema.js';
import { randomGraph } from './random-graph.js';

const fixturePath = new URL('./fixtures/circuit-tracer-like.json', import.meta.url);
const fixtureText = readFileSync(fixturePath, 'utf8');

describe('exportGraph / importGraph round trip', () => {
  it('export → import → export is byte-identical on a generated graph', () => {
    const graph = randomGraph({ positions: 5, layers: 4, neuronsPerLayer: 6, logits: 3, density: 0.4, seed: 7 });
    graph.nodes[7]!.actual = 1.25;
    graph.nodes[7]!.constant = -0.5;
    graph.nodes[8]!.influence = 0.421875;
    const first = exportGraph(graph);
    const reimported = importGraph(JSON.parse(first));
    const second = exportGraph(reimported);
    expect(second).toBe(first);
    expect(reimported).toEqual(graph);
    // Importing the text directly gives the same graph.
    expect(importGraph(first)).toEqual(reimported);
  });

  it('writes keys in a fixed order whatever the input order', () => {
    const graph = randomGraph({ positions: 2, layers: 1, neuronsPerLayer: 2, logits: 1, density: 1, seed: 1 });
    const shuffled = JSON.parse(JSON.stringify(graph), function (this: unknown, _key, value: unknown) {
      if (value && typeof value === 'object' && !Array.isArray(value)) return Object.fromEntries(Object.entries(value).reverse());
      return value;
    });
    expect(exportGraph(importGraph(shuffled))).toBe(exportGraph(graph));
    const firstNodeLine = exportGraph(graph).split('\n').find((line) => line.startsWith('{"node_id"'))!;
    expect(Object.keys(JSON.parse(firstNodeLine.replace(/,$/, '')))).toEqual(
      ['node_id', 'feature', 'layer', 'ctx_idx', 'feature_type', 'jsNodeId', 'clerp', 'influence', 'activation', 'token_prob', 'is_target_logit']);
  });
});

describe('importGraph on a circuit-tracer shaped graph', () => {
  const raw = JSON.parse(fixtureText);
  const graph = importGraph(raw);

  it('imports every node and link', () => {
    expect(graph.nodes).toHaveLength(raw.nodes.length);
    expect(graph.links).toHaveLength(raw.links.length);
    expect(graph.metadata.scan).toBe('gemma-3-1b');
    expect(graph.metadata.info?.generator).toEqual({ name: 'circuit-tracer', version: '0.1.0', url: 'https://github.com/safety-research/circuit-tracer' });
    expect(graph.metadata.info?.transcoder_set).toBe('clt-gemma-3-1b-26');
    expect(graph.metadata.generation_settings).toEqual({ max_n_logits: 10, desired_logit_prob: 0.95, batch_size: 256, max_feature_nodes: 8192 });
    expect(graph.metadata.pruning_settings).toEqual({ node_threshold: 0.8, edge_threshold: 0.98 });
    expect(graph.qParams.supernodes).toEqual([['Texas', '0_391_4', '7_6861_4']]);
  });

  it('tolerates the quirks: nulls, error nodes, string layers, extra fields, bf16 numbers', () => {
    const byId = new Map(graph.nodes.map((n) => [n.node_id, n]));
    const error = byId.get('18_-1_3')!;
    expect(error).toMatchObject({ feature: -1, layer: '18', ctx_idx: 3, feature_type: 'mlp reconstruction error', activation: null });
    expect(nodeKind(error)).toBe('error');
    const logit = byId.get('27_22605_5')!;
    expect(logit).toMatchObject({ influence: null, activation: null, token_prob: 0.328125, is_target_logit: true, clerp: 'Output " Austin" (p=0.328)' });
    expect(nodeKind(logit)).toBe('logit');
    const feature = byId.get('0_391_4')!;
    expect(feature).toMatchObject({ feature_type: 'cross layer transcoder', jsNodeId: '0_391-0', activation: 12.5625, run_idx: 0, reverse_ctx_idx: 0 });
    expect(nodeKind(feature)).toBe('feature');
    expect(byId.get('E_2_0')).toMatchObject({ layer: 'E', activation: null, feature_type: 'embedding' });
    // Unknown fields are dropped.
    expect('feature_details' in graph.metadata).toBe(false);
    // And our export of it round-trips.
    const text = exportGraph(graph);
    expect(exportGraph(importGraph(text))).toBe(text);
  });

  it('fills defaults for fields other tools leave out, and accepts numeric layers', () => {
    const minimal = {
      metadata: { slug: 's', scan: null, prompt: 'p', prompt_tokens: ['a'] },
      nodes: [{ node_id: 'E_1_0', feature: 0, layer: 'E', ctx_idx: 0, feature_type: 'embedding' },
        { node_id: '3_1_0', feature: 1, layer: 3, ctx_idx: 0, feature_type: 'logit', token_prob: null }],
      links: [{ source: 'E_1_0', target: '3_1_0', weight: 0.5 }],
    };
    const graph = importGraph(minimal);
    expect(graph.qParams).toEqual({ pinnedIds: [], supernodes: [], linkType: 'both', clickedId: '', sg_pos: '' });
    expect(graph.metadata.scan).toBe('');
    expect(graph.nodes[1]).toEqual({ node_id: '3_1_0', feature: 1, layer: '3', ctx_idx: 0, feature_type: 'logit', jsNodeId: '3_1_0', clerp: '', influence: null, activation: null, token_prob: 0, is_target_logit: false });
  });
});

describe('importGraph rejects malformed input with precise messages', () => {
  const good = () => JSON.parse(fixtureText);
  const cases: [string, (g: any) => unknown, string][] = [
    ['not an object', () => 42, '(root): expected an object, got number 42'],
    ['missing nodes array', (g) => { delete g.nodes; return g; }, 'nodes: expected an array, got nothing (missing)'],
    ['nodes not an array', (g) => { g.nodes = {}; return g; }, 'nodes: expected an array, got an object'],
    ['missing metadata', (g) => { delete g.metadata; return g; }, 'metadata: expected an object, got nothing (missing)'],
    ['prompt token not a string', (g) => { g.metadata.prompt_tokens[2] = 5; return g; }, 'metadata.prompt_tokens[2]: expected a string, got number 5'],
    ['ctx_idx as a string', (g) => { g.nodes[3].ctx_idx = '2'; return g; }, 'nodes[3].ctx_idx: expected an integer, got string "2"'],
    ['negative ctx_idx', (g) => { g.nodes[3].ctx_idx = -1; return g; }, 'nodes[3].ctx_idx: expected a non-negative integer, got number -1'],
    ['feature not an integer', (g) => { g.nodes[7].feature = 1.5; return g; }, 'nodes[7].feature: expected an integer, got number 1.5'],
    ['missing node_id', (g) => { delete g.nodes[0].node_id; return g; }, 'nodes[0].node_id: expected a string, got nothing (missing)'],
    ['activation a string', (g) => { g.nodes[6].activation = 'high'; return g; }, 'nodes[6].activation: expected a finite number, got string "high"'],
    ['is_target_logit a number', (g) => { g.nodes[17].is_target_logit = 1; return g; }, 'nodes[17].is_target_logit: expected a boolean, got number 1'],
    ['weight a string', (g) => { g.links[4].weight = '0.5'; return g; }, 'links[4].weight: expected a finite number, got string "0.5"'],
    ['link to unknown node', (g) => { g.links[2].target = '9_999_9'; return g; }, 'links[2].target: no node has id "9_999_9"'],
    ['link from unknown node', (g) => { g.links[0].source = 'E_0_0'; return g; }, 'links[0].source: no node has id "E_0_0"'],
    ['duplicate node id', (g) => { g.nodes[5].node_id = g.nodes[1].node_id; return g; }, 'nodes[5].node_id: duplicate node id "E_818_1" (first at nodes[1])'],
    ['bad supernode', (g) => { g.qParams.supernodes = [['label', 3]]; return g; }, 'qParams.supernodes[0][1]: expected a string, got number 3'],
    ['bad generator', (g) => { g.metadata.info.generator.version = 1; return g; }, 'metadata.info.generator.version: expected a string, got number 1'],
    ['unparseable text', () => '{"nodes": [', '(root): expected JSON text'],
  ];
  for (const [name, mutate, message] of cases) {
    it(name, () => {
      const input = mutate(good());
      expect(() => importGraph(input)).toThrow(message);
    });
  }
  it('throws GraphImportError carrying the path', () => {
    const g = good();
    g.nodes[2].layer = true;
    try {
      importGraph(g);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(GraphImportError);
      expect((error as GraphImportError).path).toBe('nodes[2].layer');
    }
    const dangling = good();
    dangling.links[1].source = 'nowhere';
    expect(() => importGraph(dangling)).toThrow(GraphImportError);
  });
});

describe('graphIndex', () => {
  it('gives dense indices, kinds and typed edge arrays', () => {
    const graph = importGraph(JSON.parse(fixtureText));
    const index = graphIndex(graph);
    expect(index.nodeIds).toEqual(graph.nodes.map((n) => n.node_id));
    expect(index.indexOf.get('18_-1_3')).toBe(graph.nodes.findIndex((n) => n.node_id === '18_-1_3'));
    expect(Array.from(index.logitIndices).map((i) => index.nodeIds[i])).toEqual(['27_22605_5', '27_506_5']);
    expect(index.embeddingIndices).toHaveLength(6);
    expect(index.kinds.filter((k) => k === 'error')).toHaveLength(3);
    expect(index.kinds.filter((k) => k === 'feature')).toHaveLength(8);
    expect(index.edgeSources).toBeInstanceOf(Int32Array);
    expect(index.edgeWeights).toBeInstanceOf(Float64Array);
    graph.links.forEach((link, k) => {
      expect(index.nodeIds[index.edgeSources[k]!]).toBe(link.source);
      expect(index.nodeIds[index.edgeTargets[k]!]).toBe(link.target);
      expect(index.edgeWeights[k]).toBe(link.weight);
    });
    expect(index.tokenProbs[index.logitIndices[0]!]).toBe(0.328125);
  });
});
