/**
 * The neuron space in 3D: the top neurons (and heads) raising or lowering Δ, enlarged and
 * outlined where they sit, as ONE extra THREE.Points overlay (one draw call) holding only the
 * highlighted units — the cloud shader is untouched. Each is drawn as a ring around its neuron,
 * larger for a larger |effect|, orange when it raises Δ and blue when it lowers it.
 */
import { BufferAttribute, BufferGeometry, DynamicDrawUsage, Points, ShaderMaterial, Vector3 } from 'three';
import { colourAt } from '../../scene/colour-scale.js';
import { headPosition, neuronPosition, type SceneLayout } from '../../scene/layout.js';
import type { RankedComponent } from '../state/neuron-ranking.js';

export interface NeuronHighlights {
  readonly points: Points<BufferGeometry, ShaderMaterial>;
  readonly capacity: number;
  update(components: readonly RankedComponent[], maxAbs: number): void;
  setViewportHeight(pixels: number): void;
  dispose(): void;
}

const vertexShader = /* glsl */ `
attribute float size;
attribute vec3 colour;
uniform float uViewportHalfHeight;
varying vec3 vColour;
void main() {
  vec4 mvPosition = modelViewMatrix * vec4(position, 1.0);
  vColour = colour;
  gl_PointSize = max(6.0, size * projectionMatrix[1][1] * uViewportHalfHeight / max(-mvPosition.z, 0.05));
  gl_Position = projectionMatrix * mvPosition;
}
`;

// A ring: the neuron itself (drawn by its cloud) shows through the middle.
const fragmentShader = /* glsl */ `
varying vec3 vColour;
void main() {
  vec2 c = gl_PointCoord * 2.0 - 1.0;
  float r2 = dot(c, c);
  if (r2 > 1.0 || r2 < 0.3) discard;
  gl_FragColor = vec4(r2 > 0.72 ? vec3(1.0) : vColour, 1.0);
}
`;

export function createNeuronHighlights(layout: SceneLayout, capacity: number): NeuronHighlights {
  const positions = new Float32Array(capacity * 3);
  const colours = new Float32Array(capacity * 3);
  const sizes = new Float32Array(capacity);
  const geometry = new BufferGeometry();
  const positionAttribute = new BufferAttribute(positions, 3).setUsage(DynamicDrawUsage);
  const colourAttribute = new BufferAttribute(colours, 3).setUsage(DynamicDrawUsage);
  const sizeAttribute = new BufferAttribute(sizes, 1).setUsage(DynamicDrawUsage);
  geometry.setAttribute('position', positionAttribute);
  geometry.setAttribute('colour', colourAttribute);
  geometry.setAttribute('size', sizeAttribute);
  geometry.setDrawRange(0, 0);
  const material = new ShaderMaterial({ vertexShader, fragmentShader, uniforms: { uViewportHalfHeight: { value: 400 } } });
  const points = new Points(geometry, material);
  points.name = 'neuron-highlights';
  points.frustumCulled = false;
  points.renderOrder = 1;
  points.raycast = () => {};
  const v = new Vector3();
  const rgb: [number, number, number] = [0, 0, 0];
  const base = Math.max(layout.spacing * 0.9, 0.02);

  return {
    points,
    capacity,
    update(components, maxAbs) {
      const count = Math.min(capacity, components.length);
      for (let k = 0; k < count; k++) {
        const c = components[k]!;
        if (c.kind === 'neuron') neuronPosition(layout, c.layer, c.index, v);
        else headPosition(layout, c.layer, c.index, v);
        positions[k * 3] = v.x;
        positions[k * 3 + 1] = v.y;
        positions[k * 3 + 2] = v.z;
        const share = maxAbs > 0 ? Math.abs(c.value) / maxAbs : 1;
        colourAt(c.value >= 0 ? 1 : -1, rgb);
        colours.set(rgb, k * 3);
        sizes[k] = (c.kind === 'head' ? 0.11 : base) * (1 + Math.sqrt(share));
      }
      geometry.setDrawRange(0, count);
      points.visible = count > 0;
      positionAttribute.needsUpdate = true;
      colourAttribute.needsUpdate = true;
      sizeAttribute.needsUpdate = true;
    },
    setViewportHeight(pixels) {
      material.uniforms.uViewportHalfHeight!.value = pixels / 2;
    },
    dispose() {
      geometry.dispose();
      material.dispose();
    },
  };
}
