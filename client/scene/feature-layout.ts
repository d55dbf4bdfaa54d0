/**
 * Where the transcoder-feature clouds sit: one slab per layer, laid out like a neuron slab
 * (layout.ts) for F features, at the layer's depth; beside the neuron slab (to its left, the
 * heads being on its right) or in its place. Pure, shared by the clouds, the circuit placement
 * and the test hook.
 */
import { Vector3 } from 'three';
import type { FeatureCloudMode } from '../state/feature-view.js';
import { createSceneLayout, neuronPosition, type SceneLayout } from './layout.js';

export interface FeatureLayout {
  /** The grid of F features (a neuron layout's fields with neuronsPerLayer = F). */
  grid: SceneLayout;
  /** x offset of the feature slab from the neuron slab's centre. */
  offsetX: number;
}

/** The feature slabs for F features per layer, or null when the clouds are off. */
export function createFeatureLayout(layout: SceneLayout, featuresPerLayer: number, mode: FeatureCloudMode): FeatureLayout | null {
  if (mode === 'off' || featuresPerLayer <= 0) return null;
  const grid = createSceneLayout({ nLayers: layout.nLayers, neuronsPerLayer: featuresPerLayer, nHeads: layout.nHeads });
  const offsetX = mode === 'instead' ? 0 : -(layout.slabWidth / 2 + 0.6 + grid.slabWidth / 2);
  return { grid, offsetX };
}

/** World position of feature `index` of `layer`'s cloud. */
export function featurePosition(features: FeatureLayout, layer: number, index: number, out = new Vector3()): Vector3 {
  neuronPosition(features.grid, layer, index, out);
  out.x += features.offsetX;
  return out;
}
