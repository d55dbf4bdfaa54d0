/**
 * A name tag above each layer's slab (`blocks.l`), so a visitor knows where they are. All tags
 * share one canvas atlas and one merged geometry: a single draw call however many layers. A
 * deeper layer's tag is larger, in proportion to its distance from the entrance, so every tag
 * reads at the same size from there (readable-size.ts).
 */
import { useEffect, useMemo } from 'react';
import { BufferAttribute, BufferGeometry, DoubleSide } from 'three';
import { createCanvasPanel } from './canvas-panel.js';
import { layerZ, type SceneLayout } from './layout.js';
import { entranceScale } from './readable-size.js';

const rowPixels = 48;
const tagWidth = 0.6;
const tagHeight = 0.12;
const fontPx = Math.round(rowPixels * 0.7);

export function LayerLabels({ layout }: { layout: SceneLayout }) {
  const L = layout.nLayers;
  const atlas = useMemo(() => createCanvasPanel(256, rowPixels * Math.max(1, L)), [L]);
  const geometry = useMemo(() => {
    const positions = new Float32Array(L * 4 * 3);
    const uvs = new Float32Array(L * 4 * 2);
    const indices: number[] = [];
    const x0 = layout.originX;
    const y0 = layout.originY + layout.slabHeight + 0.12;
    for (let l = 0; l < L; l++) {
      const z = layerZ(layout, l);
      const scale = entranceScale((fontPx * tagHeight) / rowPixels, x0 + tagWidth / 2, y0 + tagHeight / 2, z);
      const [w, h] = [tagWidth * scale, tagHeight * scale];
      const corners = [[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h]];
      corners.forEach(([x, y], c) => positions.set([x, y, z], (l * 4 + c) * 3));
      // Row l of the atlas, counted from the top of the canvas (v = 1).
      const vTop = 1 - l / L;
      const vBottom = 1 - (l + 1) / L;
      uvs.set([0, vBottom, 1, vBottom, 1, vTop, 0, vTop], l * 8);
      const b = l * 4;
      indices.push(b, b + 1, b + 2, b, b + 2, b + 3);
    }
    const merged = new BufferGeometry();
    merged.setAttribute('position', new BufferAttribute(positions, 3));
    merged.setAttribute('uv', new BufferAttribute(uvs, 2));
    merged.setIndex(indices);
    merged.computeBoundingSphere();
    return merged;
  }, [layout, L]);

  useEffect(() => {
    const names = Array.from({ length: L }, (_, l) => `blocks.${l}`);
    atlas.draw((context, width) => {
      context.fillStyle = '#aab2c5';
      context.font = `600 ${fontPx}px system-ui, sans-serif`;
      context.textBaseline = 'middle';
      names.forEach((name, l) => context.fillText(name, 8, (l + 0.5) * rowPixels, width - 16));
    }, names);
  }, [atlas, L]);
  useEffect(() => () => atlas.dispose(), [atlas]);
  useEffect(() => () => geometry.dispose(), [geometry]);

  return (
    <mesh name="layer-labels" geometry={geometry}>
      <meshBasicMaterial map={atlas.texture} transparent depthWrite={false} side={DoubleSide} />
    </mesh>
  );
}
