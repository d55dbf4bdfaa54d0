/**
 * The circuit in 3D: every kept link as a line segment in ONE LineSegments (one draw call),
 * coloured by the sign of its weight (the shared diverging scale: orange raises, blue lowers)
 * with |weight| as brightness and opacity (WebGL lines are one pixel wide); and every kept node
 * as a round sprite in ONE Points. When something is focused, links on a path through it shine
 * and the rest dim. Buffers are sized once per graph; `update` rewrites them and the draw range.
 */
import {
  BufferAttribute,
  BufferGeometry,
  DynamicDrawUsage,
  LineBasicMaterial,
  LineSegments,
  Points,
  ShaderMaterial,
} from 'three';
import type { GraphIndex } from '../../../shared/graph/io.js';
import type { PruneResult } from '../../../shared/graph/prune.js';
import { nodeKind, type AttributionGraph } from '../../../shared/graph/schema.js';
import { colourAt } from '../../scene/colour-scale.js';
import type { CircuitHighlight } from '../state/analysis-store.js';

export interface CircuitPaths {
  readonly lines: LineSegments<BufferGeometry, LineBasicMaterial>;
  readonly nodes: Points<BufferGeometry, ShaderMaterial>;
  update(prune: PruneResult | null, highlight: CircuitHighlight, visible: boolean): void;
  setViewportHeight(pixels: number): void;
  dispose(): void;
}

const nodeVertexShader = /* glsl */ `
attribute float size;
attribute vec4 colour;
uniform float uViewportHalfHeight;
varying vec4 vColour;
void main() {
  vec4 mvPosition = modelViewMatrix * vec4(position, 1.0);
  vColour = colour;
  gl_PointSize = max(3.0, size * projectionMatrix[1][1] * uViewportHalfHeight / max(-mvPosition.z, 0.05));
  gl_Position = projectionMatrix * mvPosition;
}
`;

const nodeFragmentShader = /* glsl */ `
varying vec4 vColour;
void main() {
  vec2 c = gl_PointCoord * 2.0 - 1.0;
  float r2 = dot(c, c);
  if (r2 > 1.0) discard;
  gl_FragColor = vec4(r2 > 0.55 ? vec3(1.0) : vColour.rgb, vColour.a);
}
`;

const kindColours = {
  embedding: [0.91, 0.92, 0.95],
  error: [0.55, 0.58, 0.65],
  logit: [0.38, 0.88, 0.5],
} as const;

export function createCircuitPaths(graph: AttributionGraph, index: GraphIndex, positions: Float32Array): CircuitPaths {
  const linkCapacity = Math.max(1, graph.links.length);
  const linePositions = new Float32Array(linkCapacity * 6);
  const lineColours = new Float32Array(linkCapacity * 8);
  const lineGeometry = new BufferGeometry();
  const linePositionAttribute = new BufferAttribute(linePositions, 3).setUsage(DynamicDrawUsage);
  const lineColourAttribute = new BufferAttribute(lineColours, 4).setUsage(DynamicDrawUsage);
  lineGeometry.setAttribute('position', linePositionAttribute);
  lineGeometry.setAttribute('color', lineColourAttribute);
  lineGeometry.setDrawRange(0, 0);
  // Normal blending: thousands of additive lines saturate to white and hide the sign colours.
  const lineMaterial = new LineBasicMaterial({ vertexColors: true, transparent: true, depthWrite: false });
  const lines = new LineSegments(lineGeometry, lineMaterial);
  lines.name = 'circuit-paths';
  lines.frustumCulled = false;
  lines.renderOrder = 2;
  // Paths are not pick targets: rays go through to the neurons behind them.
  lines.raycast = () => {};

  const nodeCount = Math.max(1, graph.nodes.length);
  const nodePositions = new Float32Array(nodeCount * 3);
  const nodeColours = new Float32Array(nodeCount * 4);
  const nodeSizes = new Float32Array(nodeCount);
  const nodeGeometry = new BufferGeometry();
  const nodePositionAttribute = new BufferAttribute(nodePositions, 3).setUsage(DynamicDrawUsage);
  const nodeColourAttribute = new BufferAttribute(nodeColours, 4).setUsage(DynamicDrawUsage);
  const nodeSizeAttribute = new BufferAttribute(nodeSizes, 1).setUsage(DynamicDrawUsage);
  nodeGeometry.setAttribute('position', nodePositionAttribute);
  nodeGeometry.setAttribute('colour', nodeColourAttribute);
  nodeGeometry.setAttribute('size', nodeSizeAttribute);
  nodeGeometry.setDrawRange(0, 0);
  const nodeMaterial = new ShaderMaterial({
    vertexShader: nodeVertexShader,
    fragmentShader: nodeFragmentShader,
    uniforms: { uViewportHalfHeight: { value: 400 } },
    transparent: true,
    depthWrite: false,
  });
  const nodes = new Points(nodeGeometry, nodeMaterial);
  nodes.name = 'circuit-nodes';
  nodes.frustumCulled = false;
  nodes.renderOrder = 3;
  nodes.raycast = () => {};

  const kinds = index.kinds;
  const rgb: [number, number, number] = [0, 0, 0];

  return {
    lines,
    nodes,
    update(prune, highlight, visible) {
      lines.visible = nodes.visible = visible && prune !== null;
      if (!prune) return;
      const kept = prune.keptLinkIndices;
      let maxAbs = 0;
      for (let r = 0; r < kept.length; r++) maxAbs = Math.max(maxAbs, Math.abs(index.edgeWeights[kept[r]!]!));
      const focused = highlight.count > 0 && highlight.linkMask.length === kept.length;
      // Few links: show weak ones clearly (√ share); many: fade them (linear share) to keep the view readable.
      const sparse = kept.length <= 500;
      const onPath = new Uint8Array(index.nodeIds.length);
      for (let r = 0; r < kept.length; r++) {
        const k = kept[r]!;
        const s = index.edgeSources[k]!;
        const t = index.edgeTargets[k]!;
        const weight = index.edgeWeights[k]!;
        const share = maxAbs > 0 ? Math.abs(weight) / maxAbs : 1;
        const strength = Math.sqrt(share);
        const lit = !focused || highlight.linkMask[r] === 1;
        if (focused && lit) onPath[s] = onPath[t] = 1;
        colourAt(weight >= 0 ? 0.6 + 0.4 * strength : -(0.6 + 0.4 * strength), rgb);
        // Width is not available for WebGL lines: |weight| sets the opacity instead.
        const alpha = focused ? (lit ? 0.45 + 0.55 * strength : 0.03) : sparse ? 0.25 + 0.75 * strength : 0.08 + 0.9 * share;
        for (let end = 0; end < 2; end++) {
          const node = end === 0 ? s : t;
          linePositions.set(positions.subarray(node * 3, node * 3 + 3), (r * 2 + end) * 3);
          lineColours.set(rgb, (r * 2 + end) * 4);
          lineColours[(r * 2 + end) * 4 + 3] = alpha;
        }
      }
      lineGeometry.setDrawRange(0, kept.length * 2);
      linePositionAttribute.needsUpdate = true;
      lineColourAttribute.needsUpdate = true;

      const focusSet = new Set(highlight.focusIds);
      let maxInfluence = 0;
      for (const id of prune.keptNodeIds) maxInfluence = Math.max(maxInfluence, prune.nodeInfluence.get(id) ?? 0);
      let count = 0;
      for (const id of prune.keptNodeIds) {
        const i = index.indexOf.get(id)!;
        const kind = kinds[i]!;
        nodePositions.set(positions.subarray(i * 3, i * 3 + 3), count * 3);
        const influence = maxInfluence > 0 ? (prune.nodeInfluence.get(id) ?? 0) / maxInfluence : 0;
        if (kind === 'feature') colourAt(0.4 + 0.6 * Math.sqrt(Math.max(0, influence)), rgb);
        else rgb.splice(0, 3, ...kindColours[kind]);
        nodeColours.set(rgb, count * 4);
        nodeColours[count * 4 + 3] = focused && !onPath[i] ? 0.15 : 1;
        nodeSizes[count] = (kind === 'logit' || kind === 'embedding' ? 0.07 : 0.045 + 0.045 * Math.sqrt(Math.max(0, influence))) * (focusSet.has(id) ? 2 : 1);
        count++;
      }
      nodeGeometry.setDrawRange(0, count);
      nodePositionAttribute.needsUpdate = true;
      nodeColourAttribute.needsUpdate = true;
      nodeSizeAttribute.needsUpdate = true;
    },
    setViewportHeight(pixels) {
      nodeMaterial.uniforms.uViewportHalfHeight!.value = pixels / 2;
    },
    dispose() {
      lineGeometry.dispose();
      lineMaterial.dispose();
      nodeGeometry.dispose();
      nodeMaterial.dispose();
    },
  };
}
