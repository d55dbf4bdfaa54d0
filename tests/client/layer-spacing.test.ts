/**
 * Layers read as separate planes (client/scene/layout.ts, the slab frames of slab-frames.tsx and
 * the point size of layer-cloud.ts), for the bundled model (4 layers × 1024 neurons) and
 * GPT-2 small (12 × 3072):
 * - depth: the gap between neighbouring slabs is at least 10× a slab's thickness (the largest
 *   neuron point's world diameter: every neuron lies in its layer's plane);
 * - from the entrance (the visitor's eye at the XR origin), each slab's frame is seen at least
 *   0.2° inside the one in front of it on every side (5 pixels at a Quest 3's ~25 pixels per
 *   degree), for every pair of neighbours, the farthest included, so no two outlines merge;
 * - a neuron at a slab's edge is never hidden behind the same neuron of the slab in front
 *   (their directions from the eye differ by more than a point's angular size).
 */
import { describe, expect, it } from 'vitest';
import { Vector3 } from 'three';
import { createSceneLayout, layerZ, neuronPosition, type LayoutShape } from '../../client/scene/layout.js';
import { createSlabFrames } from '../../client/scene/slab-frames.js';
import { eyeHeight } from '../../client/xr/panel-placement.js';

const deg = 180 / Math.PI;
const eye = new Vector3(0, eyeHeight, 0);
const shapes: [string, LayoutShape][] = [
  ['bundled model', { nLayers: 4, neuronsPerLayer: 1024, nHeads: 8 }],
  ['GPT-2 small', { nLayers: 12, neuronsPerLayer: 3072, nHeads: 12 }],
];

/** Angles (degrees) of a slab frame's four sides from the eye: up, down, left, right of the view axis. */
function frameAngles(frames: Float32Array, layer: number): { top: number; bottom: number; left: number; right: number } {
  const xs: number[] = [];
  const ys: number[] = [];
  let z = 0;
  for (let k = 0; k < 8; k++) {
    const at = (layer * 8 + k) * 3;
    xs.push(frames[at]!);
    ys.push(frames[at + 1]!);
    z = frames[at + 2]!;
  }
  const distance = Math.abs(z - eye.z);
  return {
    top: Math.atan2(Math.max(...ys) - eye.y, distance) * deg,
    bottom: Math.atan2(eye.y - Math.min(...ys), distance) * deg,
    left: Math.atan2(eye.x - Math.min(...xs), distance) * deg,
    right: Math.atan2(Math.max(...xs) - eye.x, distance) * deg,
  };
}

describe('layer spacing', () => {
  for (const [name, shape] of shapes) {
    it(`${name}: slabs far apart for their thickness, outlines apart from the entrance`, () => {
      const layout = createSceneLayout(shape);
      // The largest unselected point: uWorldSize (spacing × 0.55) × (0.6 + 0.8 |t|) at |t| = 1.
      const thickness = layout.spacing * 0.55 * 1.4;
      const gap = Math.abs(layerZ(layout, 1) - layerZ(layout, 0));
      expect(gap / thickness).toBeGreaterThanOrEqual(10);

      const frames = createSlabFrames(layout).geometry.getAttribute('position').array as Float32Array;
      const separations: number[] = [];
      for (let l = 0; l + 1 < shape.nLayers; l++) {
        const near = frameAngles(frames, l);
        const far = frameAngles(frames, l + 1);
        for (const side of ['top', 'bottom', 'left', 'right'] as const) {
          // Farther is smaller: the far frame lies inside the near one by this much.
          separations.push(near[side] - far[side]);
        }
      }
      const least = Math.min(...separations);
      console.log(`${name}: layer gap ${gap.toFixed(2)} m = ${(gap / thickness).toFixed(0)}× slab thickness; least angle between neighbouring outlines from the entrance ${least.toFixed(3)}°`);
      expect(least).toBeGreaterThanOrEqual(0.2);

      // The top-right neuron of each layer, seen from the eye, is off the line to the one in front by more than its own size.
      const corner = layout.neuronsPerLayer - 1;
      for (let l = 0; l + 1 < shape.nLayers; l++) {
        const a = neuronPosition(layout, l, corner).sub(eye);
        const b = neuronPosition(layout, l + 1, corner).sub(eye);
        const pointAngle = 2 * Math.atan(thickness / 2 / a.length()) * deg;
        expect(a.angleTo(b) * deg).toBeGreaterThan(pointAngle);
      }
    });
  }
});
