/**
 * One layer's neuron cloud: a single THREE.Points drawn by a ShaderMaterial (one draw call per
 * layer whatever N is). Updating a frame writes the Float32 `activation` attribute and flags it
 * for upload; nothing else changes. Picking is analytic: the slab is a regular grid on a plane,
 * so a ray finds its neuron in O(1) instead of testing all N points (GPT-2 XL has 6400 per
 * layer, 307,200 in all, and the XR ray pointer casts every frame).
 */
import {
  BufferAttribute,
  BufferGeometry,
  DynamicDrawUsage,
  Matrix4,
  Points,
  Ray,
  ShaderMaterial,
  Vector3,
  type Intersection,
  type Object3D,
  type Raycaster,
} from 'three';
import { colourScaleGlsl } from './colour-scale.js';
import { layerZ, neuronPositions, type SceneLayout } from './layout.js';

export interface LayerCloud {
  readonly points: Points<BufferGeometry, ShaderMaterial>;
  readonly layer: number;
  /** The attribute array the frame loop writes [N]. */
  readonly activations: Float32Array;
  /** Marks the activation attribute for upload after `activations` was written. */
  commit(): void;
  setRange(range: number): void;
  setSelected(index: number): void;
  setViewportHeight(pixels: number): void;
  dispose(): void;
}

const vertexShader = /* glsl */ `
attribute float activation;
uniform float uRange;
uniform float uWorldSize;
uniform float uViewportHalfHeight;
uniform int uSelected;
varying vec3 vColour;
varying float vSelected;
${colourScaleGlsl}
void main() {
  vec4 mvPosition = modelViewMatrix * vec4(position, 1.0);
  float t = scaleParameter(activation, uRange);
  vColour = activationColour(t);
  vSelected = gl_VertexID == uSelected ? 1.0 : 0.0;
  float size = uWorldSize * (0.6 + 0.8 * abs(t)) * (vSelected > 0.5 ? 3.0 : 1.0);
  gl_PointSize = max(2.0, size * projectionMatrix[1][1] * uViewportHalfHeight / max(-mvPosition.z, 0.05));
  gl_Position = projectionMatrix * mvPosition;
}
`;

const fragmentShader = /* glsl */ `
varying vec3 vColour;
varying float vSelected;
void main() {
  vec2 c = gl_PointCoord * 2.0 - 1.0;
  float r2 = dot(c, c);
  if (r2 > 1.0) discard;
  vec3 colour = vColour;
  if (vSelected > 0.5 && r2 > 0.4) colour = vec3(1.0);
  gl_FragColor = vec4(colour, 1.0);
}
`;

const inverseMatrix = new Matrix4();
const localRay = new Ray();
const hit = new Vector3();
const candidate = new Vector3();
const closest = new Vector3();

export function createLayerCloud(layout: SceneLayout, layer: number): LayerCloud {
  const geometry = new BufferGeometry();
  geometry.setAttribute('position', new BufferAttribute(neuronPositions(layout), 3));
  const activations = new Float32Array(layout.neuronsPerLayer);
  const activationAttribute = new BufferAttribute(activations, 1).setUsage(DynamicDrawUsage);
  geometry.setAttribute('activation', activationAttribute);
  geometry.computeBoundingSphere();

  const material = new ShaderMaterial({
    vertexShader,
    fragmentShader,
    uniforms: {
      uRange: { value: 1 },
      uWorldSize: { value: layout.spacing * 0.55 },
      uViewportHalfHeight: { value: 400 },
      uSelected: { value: -1 },
    },
  });

  const points = new Points(geometry, material);
  points.position.z = layerZ(layout, layer);
  points.name = `blocks.${layer}.mlp`;
  points.userData = { kind: 'layer-cloud', layer };
  points.raycast = (raycaster, intersects) => raycastSlab(layout, points, raycaster, intersects);

  return {
    points,
    layer,
    activations,
    commit() {
      activationAttribute.needsUpdate = true;
    },
    setRange(range) {
      material.uniforms.uRange.value = range;
    },
    setSelected(index) {
      material.uniforms.uSelected.value = index;
    },
    setViewportHeight(pixels) {
      material.uniforms.uViewportHalfHeight.value = pixels / 2;
    },
    dispose() {
      geometry.dispose();
      material.dispose();
    },
  };
}

/**
 * Intersects the ray with the slab's plane (local z = 0), then tests the 3×3 grid cells around
 * the hit for the neuron closest to the ray, within the raycaster's Points threshold (capped at
 * about a neuron's drawn radius so rays pass between neurons to the layers behind).
 */
function raycastSlab(layout: SceneLayout, object: Object3D, raycaster: Raycaster, intersects: Intersection[]): void {
  inverseMatrix.copy(object.matrixWorld).invert();
  localRay.copy(raycaster.ray).applyMatrix4(inverseMatrix);
  const dz = localRay.direction.z;
  if (Math.abs(dz) < 1e-6) return;
  const t = -localRay.origin.z / dz;
  if (t < 0) return;
  localRay.at(t, hit);
  // A neuron is drawn about 0.3 spacings wide; a wider tolerance would make every ray through
  // a slab hit it, hiding the layers behind.
  // Far away, allow a quarter of a degree so a hand-held controller ray can still hold a neuron.
  const threshold = Math.min(
    raycaster.params.Points?.threshold ?? 1,
    Math.max(layout.spacing * 0.35, t * localRay.direction.length() * 0.0045),
  );
  const column0 = Math.round((hit.x - layout.originX) / layout.spacing);
  const row0 = Math.round((hit.y - layout.originY) / layout.spacing);
  let bestIndex = -1;
  let bestDistance = Infinity;
  for (let row = row0 - 1; row <= row0 + 1; row++) {
    if (row < 0 || row >= layout.rows) continue;
    for (let column = column0 - 1; column <= column0 + 1; column++) {
      if (column < 0 || column >= layout.columns) continue;
      const index = row * layout.columns + column;
      if (index >= layout.neuronsPerLayer) continue;
      candidate.set(layout.originX + column * layout.spacing, layout.originY + row * layout.spacing, 0);
      const distance = localRay.distanceSqToPoint(candidate);
      if (distance < bestDistance) {
        bestDistance = distance;
        bestIndex = index;
      }
    }
  }
  if (bestIndex < 0 || Math.sqrt(bestDistance) > threshold) return;
  candidate.set(
    layout.originX + (bestIndex % layout.columns) * layout.spacing,
    layout.originY + Math.floor(bestIndex / layout.columns) * layout.spacing,
    0,
  );
  localRay.closestPointToPoint(candidate, closest);
  closest.applyMatrix4(object.matrixWorld);
  const distance = raycaster.ray.origin.distanceTo(closest);
  if (distance < raycaster.near || distance > raycaster.far) return;
  intersects.push({
    distance,
    distanceToRay: Math.sqrt(bestDistance),
    point: closest.clone(),
    index: bestIndex,
    face: null,
    faceIndex: null,
    object,
  } as Intersection);
}
