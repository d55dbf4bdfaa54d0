/**
 * The in-scene selection panel for VR: the selected neuron's id, its activation at the shown
 * token, its activation history as a bar chart, and what is grabbed. It hangs beside the
 * visitor (a child of the XR origin, so it travels with locomotion) and is drawn on a canvas
 * texture, redrawn from store subscriptions — never per frame.
 */
import { useXR } from '@react-three/xr';
import { useEffect, useMemo } from 'react';
import { useAppServices } from '../state/app-context.js';
import { neuronLabel, type AppState } from '../state/app-store.js';
import type { ActivationStore } from '../state/activation-store.js';
import { createCanvasPanel, fillPanelBackground, type CanvasPanel } from '../scene/canvas-panel.js';
import { activationCss } from '../scene/colour-scale.js';
import { displayToken } from '../scene/token-rail.js';
import { panelPosition, panelRotation, selectionPanelPlacement } from './panel-placement.js';

export function selectionPanelLines(state: AppState, activations: ActivationStore): string[] {
  const lines: string[] = [];
  const token = state.tokens[state.position];
  lines.push(token ? `Token ${state.position}: ${displayToken(token.text)}` : 'No prompt yet');
  if (state.selection) {
    const value = activations.neuron(state.position, state.selection.layer, state.selection.neuron);
    lines.push(`Selected: ${neuronLabel(state.selection)}`);
    lines.push(`Activation here: ${value.toFixed(3)}`);
  } else {
    lines.push('Selected: none (point and pull the trigger)');
  }
  if (state.grabbed) {
    lines.push(
      state.grabbed.kind === 'token'
        ? `Grabbed: token ${state.grabbed.position}`
        : `Grabbed: ${neuronLabel(state.grabbed)}`,
    );
  }
  return lines;
}

function drawSelectionPanel(panel: CanvasPanel, state: AppState, activations: ActivationStore): void {
  const lines = selectionPanelLines(state, activations);
  const history = state.selection ? activations.history(state.selection.layer, state.selection.neuron) : [];
  panel.draw((context, width, height) => {
    fillPanelBackground(context, width, height, state.grabbed ? '#ffb050' : '#3a4050');
    context.fillStyle = '#eef0f5';
    context.font = '600 30px system-ui, sans-serif';
    lines.forEach((line, i) => context.fillText(line, 24, 48 + i * 40, width - 48));
    if (history.length === 0) return;
    const top = 48 + lines.length * 40;
    const chartHeight = height - top - 30;
    const peak = Math.max(1e-6, ...history.map(Math.abs));
    const barWidth = (width - 48) / history.length;
    const zeroY = top + chartHeight / 2;
    history.forEach((value, p) => {
      const h = (value / peak) * (chartHeight / 2);
      context.fillStyle = activationCss(value, activations.maxAbs);
      context.fillRect(24 + p * barWidth + 1, h >= 0 ? zeroY - h : zeroY, Math.max(1, barWidth - 2), Math.abs(h));
      if (p === state.position) {
        context.strokeStyle = '#ffffff';
        context.lineWidth = 2;
        context.strokeRect(24 + p * barWidth, top, barWidth, chartHeight);
      }
    });
    context.fillStyle = '#5a6070';
    context.fillRect(24, zeroY, width - 48, 1);
  }, lines);
}

const selectionPosition = panelPosition(selectionPanelPlacement);
const selectionRotation = panelRotation(selectionPanelPlacement);

/** Shared so the test hook can read what the panel shows. */
export const selectionPanelRegistry: { panel: CanvasPanel | null } = { panel: null };

export function SelectionPanel3D() {
  const { app, activations } = useAppServices();
  const inXR = useXR((state) => state.session != null);
  const panel = useMemo(() => createCanvasPanel(640, 400), []);
  useEffect(() => {
    selectionPanelRegistry.panel = panel;
    drawSelectionPanel(panel, app.getState(), activations);
    const unsubscribe = app.subscribe((state, previous) => {
      if (
        state.selection !== previous.selection ||
        state.grabbed !== previous.grabbed ||
        state.position !== previous.position ||
        state.historyVersion !== previous.historyVersion ||
        state.tokens !== previous.tokens
      ) {
        drawSelectionPanel(panel, state, activations);
      }
    });
    return () => {
      unsubscribe();
      if (selectionPanelRegistry.panel === panel) selectionPanelRegistry.panel = null;
      panel.dispose();
    };
  }, [app, activations, panel]);
  return (
    <mesh name="xr-selection-panel" visible={inXR} position={selectionPosition} rotation={selectionRotation}>
      <planeGeometry args={[selectionPanelPlacement.width, selectionPanelPlacement.height]} />
      <meshBasicMaterial map={panel.texture} transparent />
    </mesh>
  );
}
