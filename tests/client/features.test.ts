/**
 * Client side of live features without a browser: the activation store keeps each frame's sparse
 * features as decoded from the wire and reads a layer back dense; the feature clouds' layout sits
 * beside (left of) or in place of the neuron slab; a graph traced over the loaded transcoders
 * places its feature nodes in those clouds, and another tool's features stay in the slab.
 */
import { describe, expect, it } from 'vitest';
import { ActivationStore } from '../../client/state/activation-store.js';
import { decodeActivationFrame } from '../../client/state/frame-adapter.js';
import { createFeatureLayout, featurePosition } from '../../client/scene/feature-layout.js';
import { createSceneLayout } from '../../client/scene/layout.js';
import { placeCircuit } from '../../client/analysis/scene/circuit-placement.js';
import { encodeFrame } from '../../shared/frame-codec.js';
import type { AttributionGraph } from '../../shared/graph/schema.js';
import type { ModelInfo } from '../../shared/protocol.js';

const L = 4, N = 32, H = 2, F = 2048;
const model = { name: 'm', architecture: 'gpt2', nLayers: L, neuronsPerLayer: N, nHeads: H, dModel: 8, vocabSize: 10, contextLength: 16, neuronHook: '' } as ModelInfo;

function frame(position: number, features: boolean) {
  const counts = Uint32Array.from([2, 0, 1, 3]);
  return encodeFrame({
    position, tokenId: 1, nLayers: L, neuronsPerLayer: N, nHeads: H, neurons: new Float32Array(L * N).fill(0.5),
    features: features ? { featuresPerLayer: F, counts, indices: Uint32Array.from([5, 2047, 9, 0, 1, 2]), values: Float32Array.from([1, 2, 3, 4, 5, 6 + position]) } : null,
  });
}

describe('activation store: live features', () => {
  it('keeps the sparse features per position and reads a layer back dense', () => {
    const store = new ActivationStore();
    store.configure({ nLayers: L, neuronsPerLayer: N, nHeads: H });
    store.write(decodeActivationFrame(frame(0, true).slice().buffer, model));
    store.write(decodeActivationFrame(frame(1, false).slice().buffer, model));
    const out = new Float32Array(F);
    expect(store.hasFeatures(0)).toBe(true);
    expect(store.hasFeatures(1)).toBe(false);
    expect(store.readFeatureLayer(0, 0, out)).toBe(2);
    expect(out[5]).toBeCloseTo(1, 3);
    expect(out[2047]).toBeCloseTo(2, 3);
    expect(out.filter((v) => v !== 0)).toHaveLength(2);
    expect(store.readFeatureLayer(0, 1, out)).toBe(0);
    expect(out.every((v) => v === 0)).toBe(true);
    expect(store.readFeatureLayer(0, 3, out)).toBe(3);
    expect([out[0], out[1], out[2]].map((v) => Number(v!.toFixed(3)))).toEqual([4, 5, 6]);
    expect(store.readFeatureLayer(1, 3, out)).toBe(0);
    expect(store.featureMax).toBeCloseTo(6, 3);
    const snapshot = store.snapshot();
    store.reset();
    expect(store.hasFeatures(0)).toBe(false);
    expect(store.featureMax).toBeLessThan(1e-3);
    store.restore(snapshot);
    expect(store.readFeatureLayer(0, 2, out)).toBe(1);
    expect(out[9]).toBeCloseTo(3, 3);
  });
});

describe('feature clouds and circuit placement', () => {
  const layout = createSceneLayout({ nLayers: L, neuronsPerLayer: 1024, nHeads: H });
  const graph = (transcoderSet: string): AttributionGraph => ({
    metadata: { slug: 's', scan: 'm', prompt: 'a b', prompt_tokens: ['a', 'b'], node_threshold: 0.8, schema_version: 1, info: { transcoder_set: transcoderSet } },
    qParams: { pinnedIds: [], supernodes: [], linkType: 'both', clickedId: '', sg_pos: '' },
    nodes: [
      { node_id: '2_700_1', feature: 700, layer: '2', ctx_idx: 1, feature_type: 'cross layer transcoder', jsNodeId: '2_700-1', clerp: '', influence: 0.5, activation: 1, token_prob: 0, is_target_logit: false },
      { node_id: '2_-1_1', feature: -1, layer: '2', ctx_idx: 1, feature_type: 'mlp reconstruction error', jsNodeId: '2_-1-1', clerp: '', influence: 0.1, activation: null, token_prob: 0, is_target_logit: false },
    ],
    links: [],
  } as unknown as AttributionGraph);

  it('lays the clouds beside the neuron slab (left) or in its place', () => {
    const beside = createFeatureLayout(layout, F, 'beside')!;
    expect(beside.grid.neuronsPerLayer).toBe(F);
    expect(beside.offsetX + beside.grid.slabWidth / 2).toBeLessThan(-layout.slabWidth / 2);
    expect(createFeatureLayout(layout, F, 'instead')!.offsetX).toBe(0);
    expect(createFeatureLayout(layout, F, 'off')).toBeNull();
  });

  it('places a traced graph\'s features in their cloud, and only there', () => {
    const features = createFeatureLayout(layout, F, 'beside')!;
    const inCloud = placeCircuit(graph('/set/config.yaml'), layout, features).positions;
    const expected = featurePosition(features, 2, 700);
    expect([inCloud[0], inCloud[1], inCloud[2]]).toEqual([expected.x, expected.y, expected.z].map((v) => Math.fround(v)));
    const inSlab = placeCircuit(graph('/set/config.yaml'), layout, null).positions;
    expect(inSlab[0]!).toBeGreaterThan(-layout.slabWidth / 2 - 1);
    expect(inSlab[0]).not.toBeCloseTo(inCloud[0]!, 3);
    // The error node stays at the layer's centre either way.
    expect(inCloud[3]).toBeCloseTo(inSlab[3]!, 6);
  });
});
