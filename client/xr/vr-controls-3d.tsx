/**
 * The in-VR control desk: choose an example (◀ ▶), Run it, Explain it, Trace its circuit, without
 * taking the headset off. One plane with a canvas texture (see panel-placement.ts for where it
 * hangs); a controller ray's press picks the button under it (from the hit's uv), and the button
 * under the ray is lit before the trigger. A status line says what is running or what came out.
 * Shown only in an XR session (and only then does it answer rays).
 */
import type { ThreeEvent } from '@react-three/fiber';
import { useXR } from '@react-three/xr';
import { useEffect, useMemo, useState } from 'react';
import { presets } from '../../shared/presets.js';
import { useAppServices } from '../state/app-context.js';
import { createCanvasPanel, fillPanelBackground, type CanvasPanel } from '../scene/canvas-panel.js';
import { useAnalysis } from '../analysis/state/analysis-services.js';
import type { AnalysisState } from '../analysis/state/analysis-store.js';
import { controlPanelPlacement, panelPosition, panelRotation } from './panel-placement.js';

export type ControlButton = 'previous' | 'next' | 'run' | 'explain' | 'trace';

const canvasWidth = controlPanelPlacement.canvasWidth;
const canvasHeight = Math.round((canvasWidth * controlPanelPlacement.height) / controlPanelPlacement.width);

/** Button rectangles in canvas pixels: [x, y, w, h]. */
export const controlButtons: Record<ControlButton, [number, number, number, number]> = {
  previous: [10, 10, 60, 70],
  next: [canvasWidth - 70, 10, 60, 70],
  run: [10, 100, 180, 70],
  explain: [210, 100, 180, 70],
  trace: [410, 100, 180, 70],
};

const labels: Record<ControlButton, string> = { previous: '◀', next: '▶', run: 'Run', explain: 'Explain', trace: 'Trace' };

/** The button at canvas pixel (x, y from the top), or null. */
export function buttonAt(x: number, y: number): ControlButton | null {
  for (const [name, [bx, by, bw, bh]] of Object.entries(controlButtons) as [ControlButton, [number, number, number, number]][]) {
    if (x >= bx && x <= bx + bw && y >= by && y <= by + bh) return name;
  }
  return null;
}

function statusLine(a: AnalysisState, running: boolean): string {
  if (a.graphStatus === 'running') return a.progress ? `Tracing… ${a.progress.done}/${a.progress.total}` : 'Tracing…';
  if (a.effectsStatus === 'running') return 'Explaining…';
  if (running) return 'Running…';
  if (a.error) return a.error.replace(/^\w+: /, '').slice(0, 60);
  if (a.graph && a.prune) return `Circuit: ${a.prune.keptNodeIds.length} nodes`;
  if (a.effects) return `Δ = ${a.effects.logitDiff.toFixed(2)} (target − distractor)`;
  return 'Point and pull the trigger';
}

function draw(panel: CanvasPanel, a: AnalysisState, running: boolean, hovered: ControlButton | null): void {
  const preset = presets.find((p) => p.prompt === a.prompt && p.target === a.target && p.distractor === a.distractor);
  const title = preset ? preset.title : `“${a.prompt.slice(0, 28)}${a.prompt.length > 28 ? '…' : ''}”`;
  const status = statusLine(a, running);
  panel.draw((context, width, height) => {
    fillPanelBackground(context, width, height);
    context.textAlign = 'center';
    context.textBaseline = 'middle';
    for (const [name, [x, y, w, h]] of Object.entries(controlButtons) as [ControlButton, [number, number, number, number]][]) {
      context.fillStyle = name === hovered ? '#ffb050' : name === 'run' ? '#3a2a14' : '#232938';
      context.fillRect(x, y, w, h);
      context.fillStyle = name === hovered ? '#0b0d13' : '#eef0f5';
      context.font = '600 34px system-ui, sans-serif';
      context.fillText(labels[name], x + w / 2, y + h / 2);
    }
    context.fillStyle = '#eef0f5';
    context.font = '600 28px system-ui, sans-serif';
    context.fillText(title, width / 2, 45, width - 170);
    context.fillStyle = '#c0c6d4';
    context.font = '26px system-ui, sans-serif';
    context.fillText(status, width / 2, height - 30, width - 30);
  }, [title, status, hovered ?? '']);
}

/** Shared so tests can read the panel and press its buttons. */
export const vrControlsRegistry: { panel: CanvasPanel | null; press: ((button: ControlButton) => void) | null } = { panel: null, press: null };

export function VRControls3D() {
  const { app, connection } = useAppServices();
  const { store, requests } = useAnalysis();
  const inXR = useXR((state) => state.session != null);
  const panel = useMemo(() => createCanvasPanel(canvasWidth, canvasHeight), []);
  const [hovered, setHovered] = useState<ControlButton | null>(null);
  const position = useMemo(() => panelPosition(controlPanelPlacement), []);
  const rotation = useMemo(() => panelRotation(controlPanelPlacement), []);

  useEffect(() => {
    const running = () => app.getState().runStatus === 'running' || app.getState().runStatus === 'generating';
    const redraw = () => draw(panel, store.getState(), running(), hovered);
    redraw();
    const unsubscribes = [store.subscribe(redraw), app.subscribe((s, p) => s.runStatus !== p.runStatus && redraw())];
    return () => unsubscribes.forEach((u) => u());
  }, [app, store, panel, hovered]);

  useEffect(() => {
    const press = (button: ControlButton) => {
      const a = store.getState();
      const busy = a.effectsStatus === 'running' || a.graphStatus === 'running' || app.getState().runStatus === 'running' || app.getState().runStatus === 'generating';
      if (button === 'previous' || button === 'next') {
        const at = presets.findIndex((p) => p.prompt === a.prompt && p.target === a.target && p.distractor === a.distractor);
        const step = button === 'next' ? 1 : -1;
        const chosen = presets[(at + step + presets.length) % presets.length]!;
        store.setState({ prompt: chosen.prompt, target: chosen.target, distractor: chosen.distractor });
        return;
      }
      if (busy || a.prompt.trim().length === 0) return;
      if (button === 'run') void connection.runPrompt(a.prompt);
      else if (button === 'explain') void requests.explain();
      else void requests.trace();
    };
    vrControlsRegistry.panel = panel;
    vrControlsRegistry.press = press;
    return () => {
      if (vrControlsRegistry.panel === panel) vrControlsRegistry.panel = null;
      vrControlsRegistry.press = null;
    };
  }, [app, store, requests, connection, panel]);
  useEffect(() => () => panel.dispose(), [panel]);

  const at = (event: ThreeEvent<PointerEvent>): ControlButton | null =>
    event.uv ? buttonAt(event.uv.x * canvasWidth, (1 - event.uv.y) * canvasHeight) : null;
  return (
    <mesh
      name="xr-controls-panel"
      visible={inXR}
      position={position}
      rotation={rotation}
      onPointerDown={(event) => {
        // Hidden outside VR; an unhandled event passes on to what lies behind.
        if (!inXR || event.pointerType !== 'ray') return;
        event.stopPropagation();
        const button = at(event);
        if (button) vrControlsRegistry.press?.(button);
      }}
      onPointerMove={(event) => {
        if (!inXR || event.pointerType !== 'ray') return;
        event.stopPropagation();
        const button = at(event);
        if (button !== hovered) setHovered(button);
      }}
      onPointerOut={() => setHovered(null)}
    >
      <planeGeometry args={[controlPanelPlacement.width, controlPanelPlacement.height]} />
      <meshBasicMaterial map={panel.texture} transparent />
    </mesh>
  );
}
