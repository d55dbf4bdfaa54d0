/**
 * All layer clouds. React mounts them once per model layout; the frame loop copies the shown
 * position's activations into each cloud's attribute only when something changed (a new frame,
 * another position, the selection), so streaming never re-renders React.
 */
import { useFrame, useThree, type ThreeEvent } from '@react-three/fiber';
import { useEffect, useMemo, useRef } from 'react';
import { Vector2 } from 'three';
import { useAppServices } from '../state/app-context.js';
import { aimAt, aimLeave, grab, selectNeuron } from '../state/app-store.js';
import { createLayerCloud, type LayerCloud } from './layer-cloud.js';
import type { SceneLayout } from './layout.js';
import { featureViewFor, useFeatureView } from '../state/feature-view.js';

export interface CloudPickEvent {
  layer: number;
  neuron: number;
  pointerType: string;
}

export function ActivationClouds({ layout }: { layout: SceneLayout }) {
  const services = useAppServices();
  const { app, activations } = services;
  // "Instead": the layer's feature cloud takes the neuron cloud's place (feature-clouds.tsx).
  const featureMode = useFeatureView(featureViewFor(services), (s) => s.cloud);
  const hidden = featureMode === 'instead' && app.getState().model?.transcoders != null;
  const hiddenRef = useRef(hidden);
  hiddenRef.current = hidden;
  const clouds = useMemo<LayerCloud[]>(
    () => Array.from({ length: layout.nLayers }, (_, layer) => createLayerCloud(layout, layer)),
    [layout],
  );
  useEffect(() => () => clouds.forEach((cloud) => cloud.dispose()), [clouds]);

  const shown = useRef({ version: -1, position: -1, selectionKey: '' });
  const size = useRef(new Vector2());
  const gl = useThree((state) => state.gl);

  useFrame(() => {
    gl.getDrawingBufferSize(size.current);
    const { position, selection } = app.getState();
    const selectionKey = selection ? `${selection.layer}:${selection.neuron}` : '';
    const last = shown.current;
    for (const cloud of clouds) cloud.setViewportHeight(size.current.y);
    if (last.version === activations.version && last.position === position && last.selectionKey === selectionKey) return;
    for (const cloud of clouds) {
      activations.readLayer(position, cloud.layer, cloud.activations);
      cloud.commit();
      cloud.setRange(activations.maxAbs);
      cloud.setSelected(selection && selection.layer === cloud.layer ? selection.neuron : -1);
    }
    shown.current = { version: activations.version, position, selectionKey };
  });

  const onClick = (cloud: LayerCloud) => (event: ThreeEvent<MouseEvent>) => {
    if (hiddenRef.current || event.index === undefined) return;
    event.stopPropagation();
    selectNeuron(app, { layer: cloud.layer, neuron: event.index });
  };
  const onPointerDown = (cloud: LayerCloud) => (event: ThreeEvent<PointerEvent>) => {
    if (hiddenRef.current || event.index === undefined) return;
    if (event.pointerType === 'ray') {
      // A controller's select selects on press: a held trigger is not a cancelled click.
      event.stopPropagation();
      selectNeuron(app, { layer: cloud.layer, neuron: event.index });
    } else if (event.pointerType === 'grab') {
      // A grab pointer (controller squeezed against the slab) grabs the neuron.
      event.stopPropagation();
      grab(app, { kind: 'neuron', layer: cloud.layer, neuron: event.index, hand: 'grab' });
    }
  };

  // Aim feedback: what the ray (or mouse) is over, before the trigger (see aim-marker.tsx).
  const onPointerMove = (cloud: LayerCloud) => (event: ThreeEvent<PointerEvent>) => {
    if (hiddenRef.current || event.index === undefined || event.pointerType === 'grab') return;
    event.stopPropagation();
    aimAt(app, { kind: 'neuron', layer: cloud.layer, neuron: event.index }, event.pointerId);
  };
  const onPointerOut = (event: ThreeEvent<PointerEvent>) => {
    if (event.pointerType === 'grab') return;
    aimLeave(app, event.pointerId, { kind: 'neuron' });
  };

  return (
    <group name="neuron-clouds" visible={!hidden}>
      {clouds.map((cloud) => (
        <primitive key={cloud.layer} object={cloud.points} onClick={onClick(cloud)} onPointerDown={onPointerDown(cloud)} onPointerMove={onPointerMove(cloud)} onPointerOut={onPointerOut} />
      ))}
    </group>
  );
}
