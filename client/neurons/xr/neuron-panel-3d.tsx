/**
 * The in-scene neuron explanation panel for VR: a canvas texture (see neuron-panel-draw.ts)
 * redrawn from the neuron store's subscription, never per frame. It hangs to the visitor's
 * right, mirroring the selection panel on the left (both are children of the XR origin, so
 * they travel with locomotion), is shown only in an XR session and ignores controller rays.
 */
import { useXR } from '@react-three/xr';
import { useEffect, useMemo } from 'react';
import { createCanvasPanel, type CanvasPanel } from '../../scene/canvas-panel.js';
import { useNeurons } from '../state/neuron-services.js';
import type { NeuronViewState } from '../state/neuron-store.js';
import { drawNeuronPanel, panelHeight, panelWidth } from './neuron-panel-draw.js';
import { neuronPanelLines } from './neuron-panel-lines.js';
import { neuronPanelPlacement, panelPosition, panelRotation } from '../../xr/panel-placement.js';

/** Shared so the test hook can read what the panel shows. */
export const neuronPanelRegistry: { panel: CanvasPanel | null } = { panel: null };

/** Metres: where and how big (see client/xr/panel-placement.ts for the rules). */
const planeWidth = neuronPanelPlacement.width;
const planeHeight = (planeWidth * panelHeight) / panelWidth;
const position = panelPosition(neuronPanelPlacement);
const rotation = panelRotation(neuronPanelPlacement);

export function NeuronPanel3D() {
  const { store } = useNeurons();
  const inXR = useXR((state) => state.session != null);
  const panel = useMemo(() => createCanvasPanel(panelWidth, panelHeight), []);
  useEffect(() => {
    neuronPanelRegistry.panel = panel;
    // Progress events arrive several times a second during a build: redraw only when what the
    // panel shows changes (its lines, or the details it paints).
    let shown: { key: string; details: NeuronViewState['details'] } | null = null;
    const redraw = (state: NeuronViewState) => {
      const key = neuronPanelLines(state).join('\n');
      if (shown && shown.key === key && shown.details === state.details) return;
      shown = { key, details: state.details };
      drawNeuronPanel(panel, state);
    };
    redraw(store.getState());
    const unsubscribe = store.subscribe(redraw);
    return () => {
      unsubscribe();
      if (neuronPanelRegistry.panel === panel) neuronPanelRegistry.panel = null;
      panel.dispose();
    };
  }, [store, panel]);
  return (
    <mesh name="xr-neuron-panel" visible={inXR} position={position} rotation={rotation} raycast={() => {}}>
      <planeGeometry args={[planeWidth, planeHeight]} />
      <meshBasicMaterial map={panel.texture} transparent />
    </mesh>
  );
}
