/**
 * Where everything sits in the space (metres; y up; the visitor starts at the origin facing -z).
 * Entrance: the token rail. Then one slab of neurons per layer, in model order, each with its
 * row of attention heads beside it. Far end: the prediction board.
 * Pure functions of the model's shape, shared by rendering, picking and the test hook.
 */
import { Vector3 } from 'three';

export interface LayoutShape {
  nLayers: number;
  neuronsPerLayer: number;
  nHeads: number;
}

export interface SceneLayout extends LayoutShape {
  columns: number;
  rows: number;
  /** Distance between neighbouring neurons in a slab. */
  spacing: number;
  /** Slab centre height (eye level) and its lower-left neuron. */
  centreY: number;
  originX: number;
  originY: number;
  slabWidth: number;
  slabHeight: number;
  layerGap: number;
  firstLayerZ: number;
  railZ: number;
  railY: number;
  tokenSpacing: number;
  boardZ: number;
  headSpacing: number;
}

const maxSlabWidth = 3.2;
const maxSlabHeight = 2.0;
const maxSpacing = 0.14;

export function createSceneLayout(shape: LayoutShape): SceneLayout {
  const n = Math.max(1, shape.neuronsPerLayer);
  const aspect = maxSlabWidth / maxSlabHeight;
  const columns = Math.max(1, Math.ceil(Math.sqrt(n * aspect)));
  const rows = Math.max(1, Math.ceil(n / columns));
  const spacing = Math.min(maxSpacing, maxSlabWidth / columns, maxSlabHeight / rows);
  const slabWidth = (columns - 1) * spacing;
  const slabHeight = (rows - 1) * spacing;
  const centreY = 1.5;
  const layerGap = 1.6;
  const firstLayerZ = -3.5;
  return {
    ...shape,
    columns,
    rows,
    spacing,
    centreY,
    originX: -slabWidth / 2,
    originY: centreY - slabHeight / 2,
    slabWidth,
    slabHeight,
    layerGap,
    firstLayerZ,
    railZ: -1.6,
    railY: 1.05,
    tokenSpacing: 0.32,
    boardZ: firstLayerZ - Math.max(0, shape.nLayers - 1) * layerGap - 2.5,
    headSpacing: 0.16,
  };
}

export function layerZ(layout: SceneLayout, layer: number): number {
  return layout.firstLayerZ - layer * layout.layerGap;
}

/** Position of neuron `index` of `layer` (index = row * columns + column, rows bottom-up). */
export function neuronPosition(layout: SceneLayout, layer: number, index: number, out = new Vector3()): Vector3 {
  const column = index % layout.columns;
  const row = Math.floor(index / layout.columns);
  return out.set(layout.originX + column * layout.spacing, layout.originY + row * layout.spacing, layerZ(layout, layer));
}

/** Local (layer-relative, z = 0) positions of all N neurons: [N * 3]. */
export function neuronPositions(layout: SceneLayout): Float32Array {
  const positions = new Float32Array(layout.neuronsPerLayer * 3);
  const v = new Vector3();
  for (let i = 0; i < layout.neuronsPerLayer; i++) {
    neuronPosition(layout, 0, i, v);
    positions[i * 3] = v.x;
    positions[i * 3 + 1] = v.y;
    positions[i * 3 + 2] = 0;
  }
  return positions;
}

const headsPerRow = 12;

/** Attention head h of a layer: rows of up to 12 to the right of the slab, from the top. */
export function headPosition(layout: SceneLayout, layer: number, head: number, out = new Vector3()): Vector3 {
  const column = head % headsPerRow;
  const row = Math.floor(head / headsPerRow);
  const x = layout.slabWidth / 2 + 0.35 + column * layout.headSpacing;
  return out.set(x, layout.centreY + 0.3 - row * layout.headSpacing, layerZ(layout, layer));
}

/** Token at `position` on the rail, centred on x = 0 for `count` tokens. */
export function tokenPosition(layout: SceneLayout, position: number, count: number, out = new Vector3()): Vector3 {
  const width = (Math.max(1, count) - 1) * layout.tokenSpacing;
  return out.set(-width / 2 + position * layout.tokenSpacing, layout.railY, layout.railZ);
}
