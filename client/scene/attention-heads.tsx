/**
 * Attention heads: a row of larger nodes beside each layer, all L × H of them in one
 * InstancedMesh (one draw call). A head's colour is its focus at the shown position — the
 * largest weight in its attention row (1 = attends to a single token) — on the positive half
 * of the shared colour scale. Clicking a head (or pointing a controller at it and pulling the
 * trigger) selects it: its pattern shows as a grid in the attention panel and as arcs over the
 * token rail (attention-arcs.tsx); the selected head is drawn larger.
 */
import { useFrame, useThree, type ThreeEvent } from '@react-three/fiber';
import { useEffect, useMemo, useRef } from 'react';
import { Color, IcosahedronGeometry, InstancedMesh, Matrix4, MeshBasicMaterial, SRGBColorSpace, Vector3 } from 'three';
import { useAppServices } from '../state/app-context.js';
import { analysisSceneRegistry, useAnalysis } from '../analysis/state/analysis-services.js';
import { AttentionArcs } from './attention-arcs.js';
import { colourAt } from './colour-scale.js';
import { headPosition, type SceneLayout } from './layout.js';

export function AttentionHeads({ layout }: { layout: SceneLayout }) {
  const { app, activations } = useAppServices();
  const { store } = useAnalysis();
  const count = layout.nLayers * layout.nHeads;
  const mesh = useMemo(() => {
    const instanced = new InstancedMesh(new IcosahedronGeometry(0.055, 1), new MeshBasicMaterial(), Math.max(1, count));
    const matrix = new Matrix4();
    const position = new Vector3();
    const colour = new Color().setRGB(...colourAt(0), SRGBColorSpace);
    for (let layer = 0; layer < layout.nLayers; layer++) {
      for (let head = 0; head < layout.nHeads; head++) {
        const index = layer * layout.nHeads + head;
        instanced.setMatrixAt(index, matrix.makeTranslation(headPosition(layout, layer, head, position)));
        instanced.setColorAt(index, colour);
      }
    }
    instanced.count = count;
    instanced.name = 'attention-heads';
    return instanced;
  }, [layout, count]);
  useEffect(() => () => {
    mesh.geometry.dispose();
    (mesh.material as MeshBasicMaterial).dispose();
  }, [mesh]);

  // Tests and tools: where a head is on the page (CSS pixels), to click it.
  const camera = useThree((state) => state.camera);
  const gl = useThree((state) => state.gl);
  useEffect(() => {
    analysisSceneRegistry.projectHead = (layer, head) => {
      const v = headPosition(layout, layer, head, new Vector3()).project(camera);
      if (v.z > 1) return null; // behind the camera
      const rect = gl.domElement.getBoundingClientRect();
      return { x: rect.left + ((v.x + 1) / 2) * rect.width, y: rect.top + ((1 - v.y) / 2) * rect.height };
    };
    return () => {
      analysisSceneRegistry.projectHead = null;
    };
  }, [layout, camera, gl]);

  const shown = useRef({ version: -1, position: -1, head: '' });
  const rgb = useMemo<[number, number, number]>(() => [0, 0, 0], []);
  const colour = useMemo(() => new Color(), []);
  useFrame(() => {
    const { position } = app.getState();
    const selected = store.getState().selectedHead;
    const headKey = selected ? `${selected.layer}/${selected.head}` : '';
    if (shown.current.version === activations.version && shown.current.position === position && shown.current.head === headKey) return;
    if (shown.current.head !== headKey) {
      // The selected head is drawn 1.8× larger; the others at their own size.
      const matrix = new Matrix4();
      const where = new Vector3();
      for (let layer = 0; layer < layout.nLayers; layer++) {
        for (let head = 0; head < layout.nHeads; head++) {
          const scale = selected && selected.layer === layer && selected.head === head ? 1.8 : 1;
          matrix.makeTranslation(headPosition(layout, layer, head, where)).multiply(new Matrix4().makeScale(scale, scale, scale));
          mesh.setMatrixAt(layer * layout.nHeads + head, matrix);
        }
      }
      mesh.instanceMatrix.needsUpdate = true;
    }
    shown.current = { version: activations.version, position, head: headKey };
    for (let layer = 0; layer < layout.nLayers; layer++) {
      for (let head = 0; head < layout.nHeads; head++) {
        const row = activations.attentionRow(position, layer, head);
        let focus = 0;
        if (row) for (let k = 0; k < row.length; k++) focus = Math.max(focus, row[k]);
        colourAt(focus, rgb);
        mesh.setColorAt(layer * layout.nHeads + head, colour.setRGB(rgb[0], rgb[1], rgb[2], SRGBColorSpace));
      }
    }
    if (mesh.instanceColor) mesh.instanceColor.needsUpdate = true;
  });

  const pick = (event: ThreeEvent<MouseEvent | PointerEvent>) => {
    if (event.instanceId === undefined) return;
    event.stopPropagation();
    const layer = Math.floor(event.instanceId / layout.nHeads);
    const head = event.instanceId % layout.nHeads;
    const selected = store.getState().selectedHead;
    store.setState({ selectedHead: selected && selected.layer === layer && selected.head === head ? null : { layer, head } });
  };
  return (
    <>
      <primitive
        object={mesh}
        onClick={pick}
        // A controller's select picks on press (as the neuron clouds do).
        onPointerDown={(event: ThreeEvent<PointerEvent>) => event.pointerType === 'ray' && pick(event)}
      />
      <AttentionArcs layout={layout} />
    </>
  );
}
