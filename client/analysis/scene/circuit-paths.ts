/**
 * The circuit in 3D: every kept link as a line segment in ONE LineSegments (one draw call),
 * coloured by the sign of its weight (the shared diverging scale: orange raises, blue lowers)
 * with |weight| as brightness and opacity (WebGL lines are one pixel wide); and every kept node
 * as a round sprite in ONE Points. When something is focused, links on a path through it shine
 * and the rest dim. It draws the same view as the 2D panel (circuit-view.ts): supernodes as one
 * larger node at their members' centroid. Buffers are sized once per graph; `update` rewrites
 * them and the draw range.
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
import type { AttributionGraph } from '../../../shared/graph/schema.js';
import type { ViewModel } from '../state/circuit-view.js';
import { colourAt } from '../../scene/colour-scale.js';
import type { CircuitHighlight } from '../state/analysis-store.js';

export interface CircuitPaths {
  readonly lines: LineSegments<BufferGeometry, LineBasicMaterial>;
  readonly nodes: Points<BufferGeometry, ShaderMaterial>;
  /** Draws the view (the same subgraph as the 2D panel: kept nodes, supernodes merged). */
  update(view: ViewModel | null, highlight: CircuitHighlight, visible: boolean, hoverId: string | null): void;
  /** World position of a view node as last drawn. */
  centre(viewIndex: number): [number, number, number] | null;
  /** What the buffers hold now: the view node ids in the nodes' draw range, the link segments drawn, visibility. */
  drawn(): { nodeIds: string[]; links: number; visible: boolean };
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
  // Sized for what is drawn (the view: a budget of nodes), grown when a view needs more: a
  // graph's full link count (tens of thousands) would upload megabytes the view never uses.
  let linkCapacity = 0;
  let linePositions = new Float32Array(0);
  let lineColours = new Float32Array(0);
  const lineGeometry = new BufferGeometry();
  let linePositionAttribute = new BufferAttribute(linePositions, 3);
  let lineColourAttribute = new BufferAttribute(lineColours, 4);
  const reserveLinks = (count: number) => {
    if (count <= linkCapacity && linkCapacity > 0) return;
    linkCapacity = Math.max(256, 2 ** Math.ceil(Math.log2(Math.max(1, count))));
    linePositions = new Float32Array(linkCapacity * 6);
    lineColours = new Float32Array(linkCapacity * 8);
    lineGeometry.dispose(); // the GPU buffers of the smaller attributes go; new ones upload on the next draw
    linePositionAttribute = new BufferAttribute(linePositions, 3).setUsage(DynamicDrawUsage);
    lineColourAttribute = new BufferAttribute(lineColours, 4).setUsage(DynamicDrawUsage);
    lineGeometry.setAttribute('position', linePositionAttribute);
    lineGeometry.setAttribute('color', lineColourAttribute);
  };
  reserveLinks(Math.min(index.edgeSources.length, 1024));
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

  let lastCentres: { view: ViewModel; at: Float32Array } | null = null;
  const rgb: [number, number, number] = [0, 0, 0];

  return {
    lines,
    nodes,
    update(view, highlight, visible, hoverId) {
      lines.visible = nodes.visible = visible && view !== null;
      if (!view) return;
      // A view node sits at its member's place; a supernode at its members' centroid.
      const at = new Float32Array(view.nodes.length * 3);
      view.nodes.forEach((node, v) => {
        for (const i of node.members) for (let c = 0; c < 3; c++) at[v * 3 + c]! += positions[i * 3 + c]! / node.members.length;
      });
      const maxAbs = view.maxAbsWeight;
      const focused = highlight.count > 0;
      // Few links: show weak ones clearly (√ share); many: fade them (linear share) to keep the view readable.
      const sparse = view.links.length <= 500;
      const onPath = new Uint8Array(view.nodes.length);
      reserveLinks(view.links.length);
      const count = view.links.length;
      for (let r = 0; r < count; r++) {
        const link = view.links[r]!;
        const share = maxAbs > 0 ? Math.abs(link.weight) / maxAbs : 1;
        const strength = Math.sqrt(share);
        const lit = !focused || link.rows.some((row) => highlight.linkMask[row] === 1);
        if (focused && lit) onPath[link.source] = onPath[link.target] = 1;
        colourAt(link.weight >= 0 ? 0.6 + 0.4 * strength : -(0.6 + 0.4 * strength), rgb);
        // Width is not available for WebGL lines: |weight| sets the opacity instead.
        const alpha = focused ? (lit ? 0.45 + 0.55 * strength : 0.03) : sparse ? 0.25 + 0.75 * strength : 0.08 + 0.9 * share;
        for (let end = 0; end < 2; end++) {
          const v = end === 0 ? link.source : link.target;
          linePositions.set(at.subarray(v * 3, v * 3 + 3), (r * 2 + end) * 3);
          lineColours.set(rgb, (r * 2 + end) * 4);
          lineColours[(r * 2 + end) * 4 + 3] = alpha;
        }
      }
      lineGeometry.setDrawRange(0, count * 2);
      linePositionAttribute.needsUpdate = true;
      lineColourAttribute.needsUpdate = true;

      const focusSet = new Set(highlight.focusIds.map((id) => view.viewOf[index.indexOf.get(id) ?? -1] ?? -1));
      const nodeTotal = Math.min(view.nodes.length, nodeCount);
      for (let v = 0; v < nodeTotal; v++) {
        const node = view.nodes[v]!;
        nodePositions.set(at.subarray(v * 3, v * 3 + 3), v * 3);
        const influence = view.maxInfluence > 0 ? Math.max(0, node.influence) / view.maxInfluence : 0;
        if (node.kind === 'feature' || node.kind === 'group') colourAt(0.4 + 0.6 * Math.sqrt(Math.min(1, influence)), rgb);
        else rgb.splice(0, 3, ...kindColours[node.kind]);
        nodeColours.set(rgb, v * 4);
        nodeColours[v * 4 + 3] = focused && !onPath[v] ? 0.15 : 1;
        const base = node.kind === 'logit' || node.kind === 'embedding' ? 0.07 : node.kind === 'group' ? 0.12 : 0.045 + 0.045 * Math.sqrt(Math.min(1, influence));
        nodeSizes[v] = base * (focusSet.has(v) || node.id === hoverId ? 2 : 1);
      }
      nodeGeometry.setDrawRange(0, nodeTotal);
      nodePositionAttribute.needsUpdate = true;
      nodeColourAttribute.needsUpdate = true;
      nodeSizeAttribute.needsUpdate = true;
      lastCentres = { view, at };
    },
    centre(viewIndex) {
      if (!lastCentres || viewIndex < 0 || viewIndex >= lastCentres.view.nodes.length) return null;
      const a = lastCentres.at;
      return [a[viewIndex * 3]!, a[viewIndex * 3 + 1]!, a[viewIndex * 3 + 2]!];
    },
    drawn() {
      const count = nodeGeometry.drawRange.count;
      return {
        nodeIds: lastCentres ? lastCentres.view.nodes.slice(0, Math.min(count, lastCentres.view.nodes.length)).map((n) => n.id) : [],
        links: lineGeometry.drawRange.count / 2,
        visible: nodes.visible && lines.visible,
      };
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
