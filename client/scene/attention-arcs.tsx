/**
 * The selected attention head's row at the shown position, in 3D: an arc from the query token's
 * block on the rail to each key it attends to, rising higher the farther back the key is, bright
 * and opaque in proportion to the weight (weights under 2% are left out). One LineSegments,
 * rebuilt only when the head, the position or the activations change.
 */
import { useFrame } from '@react-three/fiber';
import { useEffect, useMemo, useRef } from 'react';
import { BufferAttribute, BufferGeometry, DynamicDrawUsage, LineBasicMaterial, LineSegments, Vector3 } from 'three';
import { analysisSceneRegistry, useAnalysis } from '../analysis/state/analysis-services.js';
import { useAppServices } from '../state/app-context.js';
import { colourAt } from './colour-scale.js';
import { tokenPosition, type SceneLayout } from './layout.js';

const segmentsPerArc = 16;
const maxArcs = 512;
const minWeight = 0.02;

/** Points of one arc from a to b: a half-ellipse above the rail, height growing with the span. */
export function arcPoint(a: Vector3, b: Vector3, t: number, out: Vector3): Vector3 {
  const span = a.distanceTo(b);
  const lift = 0.12 + 0.35 * span;
  out.lerpVectors(a, b, t);
  out.y += Math.sin(Math.PI * t) * lift;
  return out;
}

export function AttentionArcs({ layout }: { layout: SceneLayout }) {
  const { app, activations } = useAppServices();
  const { store } = useAnalysis();
  const arcs = useMemo(() => {
    const positions = new Float32Array(maxArcs * segmentsPerArc * 2 * 3);
    const colours = new Float32Array(maxArcs * segmentsPerArc * 2 * 4);
    const geometry = new BufferGeometry();
    geometry.setAttribute('position', new BufferAttribute(positions, 3).setUsage(DynamicDrawUsage));
    geometry.setAttribute('color', new BufferAttribute(colours, 4).setUsage(DynamicDrawUsage));
    geometry.setDrawRange(0, 0);
    const lines = new LineSegments(geometry, new LineBasicMaterial({ vertexColors: true, transparent: true, depthWrite: false }));
    lines.name = 'attention-arcs';
    lines.frustumCulled = false;
    lines.renderOrder = 4;
    lines.raycast = () => {};
    return { lines, geometry, positions, colours };
  }, []);
  useEffect(() => () => {
    arcs.geometry.dispose();
    arcs.lines.material.dispose();
  }, [arcs]);

  const shown = useRef('');
  const drawn = useRef<{ query: number; keys: { key: number; weight: number }[] } | null>(null);
  useEffect(() => {
    analysisSceneRegistry.attentionArcs = () => drawn.current;
    return () => {
      analysisSceneRegistry.attentionArcs = null;
    };
  }, []);
  useFrame(() => {
    const head = store.getState().selectedHead;
    const { position, tokens } = app.getState();
    const key = head ? `${head.layer}/${head.head}/${position}/${activations.version}/${tokens.length}` : '';
    if (key === shown.current) return;
    shown.current = key;
    const row = head ? activations.attentionRow(position, head.layer, head.head) : undefined;
    let vertex = 0;
    drawn.current = row ? { query: position, keys: [] } : null;
    if (row) {
      const query = tokenPosition(layout, position, tokens.length, new Vector3());
      query.y += 0.12; // from the top of the token blocks
      const keyAt = new Vector3();
      const p = new Vector3();
      const rgb: [number, number, number] = [0, 0, 0];
      let arcCount = 0;
      for (let k = 0; k < row.length && arcCount < maxArcs; k++) {
        const weight = row[k]!;
        if (weight < minWeight) continue;
        arcCount++;
        drawn.current!.keys.push({ key: k, weight });
        tokenPosition(layout, k, tokens.length, keyAt);
        keyAt.y += 0.12;
        colourAt(0.35 + 0.65 * Math.sqrt(weight), rgb);
        const alpha = 0.25 + 0.75 * Math.sqrt(weight);
        for (let s = 0; s < segmentsPerArc; s++) {
          for (const t of [s / segmentsPerArc, (s + 1) / segmentsPerArc]) {
            // A key the query attends to itself: a small loop above its block.
            if (k === position) p.copy(query).add(new Vector3(Math.sin(2 * Math.PI * t) * 0.06, 0.1 * Math.sin(Math.PI * t), 0));
            else arcPoint(query, keyAt, t, p);
            arcs.positions.set([p.x, p.y, p.z], vertex * 3);
            arcs.colours.set([rgb[0], rgb[1], rgb[2], alpha], vertex * 4);
            vertex++;
          }
        }
      }
    }
    arcs.geometry.setDrawRange(0, vertex);
    arcs.geometry.attributes.position!.needsUpdate = true;
    arcs.geometry.attributes.color!.needsUpdate = true;
  });
  return <primitive object={arcs.lines} />;
}
