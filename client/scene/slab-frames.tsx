/**
 * A thin frame around each layer's slab, so that seen from the entrance (in VR, where the slabs
 * line up one behind the other) each layer reads as its own plane rather than one cloud. All
 * frames are one LineSegments (one draw call), built once per layout.
 */
import { useEffect, useMemo } from 'react';
import { BufferAttribute, BufferGeometry, LineBasicMaterial, LineSegments } from 'three';
import { layerZ, type SceneLayout } from './layout.js';

export function createSlabFrames(layout: SceneLayout, margin = 0.08): LineSegments {
  const positions = new Float32Array(layout.nLayers * 8 * 3);
  const left = layout.originX - margin;
  const right = layout.originX + layout.slabWidth + margin;
  const bottom = layout.originY - margin;
  const top = layout.originY + layout.slabHeight + margin;
  for (let l = 0; l < layout.nLayers; l++) {
    const z = layerZ(layout, l);
    const corners = [[left, bottom], [right, bottom], [right, top], [left, top]] as const;
    for (let k = 0; k < 4; k++) {
      const [x0, y0] = corners[k]!;
      const [x1, y1] = corners[(k + 1) % 4]!;
      positions.set([x0, y0, z, x1, y1, z], (l * 8 + k * 2) * 3);
    }
  }
  const geometry = new BufferGeometry();
  geometry.setAttribute('position', new BufferAttribute(positions, 3));
  const frames = new LineSegments(geometry, new LineBasicMaterial({ color: '#5a6480', transparent: true, opacity: 0.7 }));
  frames.name = 'slab-frames';
  frames.raycast = () => {};
  return frames;
}

export function SlabFrames({ layout }: { layout: SceneLayout }) {
  const frames = useMemo(() => createSlabFrames(layout), [layout]);
  useEffect(() => () => {
    frames.geometry.dispose();
    (frames.material as LineBasicMaterial).dispose();
  }, [frames]);
  return <primitive object={frames} />;
}
