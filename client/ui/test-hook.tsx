/**
 * `window.__circuits`: a small, stable handle for browser tests and benchmarks — the stores,
 * the XR store, renderer statistics, and where neurons and tokens are on screen and in space.
 */
import { useFrame, useThree } from '@react-three/fiber';
import type { XRStore } from '@react-three/xr';
import { useEffect, useMemo } from 'react';
import { Vector3 } from 'three';
import type { AppServices } from '../state/app-context.js';
import { FrameTimer, type FrameTimerSummary } from '../scene/frame-timer.js';
import { neuronPosition, tokenPosition, type SceneLayout } from '../scene/layout.js';
import { selectionPanelRegistry } from '../xr/selection-panel-3d.js';
import { neuronServicesFor } from '../neurons/state/neuron-services.js';
import type { NeuronStore } from '../neurons/state/neuron-store.js';
import { neuronPanelRegistry } from '../neurons/xr/neuron-panel-3d.js';
import { aimMarkerRegistry } from '../scene/aim-marker.js';
import { controlButtons, vrControlsRegistry, type ControlButton } from '../xr/vr-controls-3d.js';
import { controlPanelPlacement } from '../xr/panel-placement.js';

export interface CircuitsTestHook {
  store: AppServices['app'];
  activations: AppServices['activations'];
  connection: AppServices['connection'];
  xrStore: XRStore;
  layout: () => SceneLayout | null;
  /** renderer.info: draw calls, triangles, points of the last frame. */
  rendererInfo: () => { calls: number; triangles: number; points: number; frame: number; geometries: number; programs: number };
  neuronWorldPosition: (layer: number, neuron: number) => [number, number, number] | null;
  tokenWorldPosition: (position: number) => [number, number, number] | null;
  /** CSS pixel coordinates (relative to the viewport) of a neuron on the desktop canvas. */
  projectNeuron: (layer: number, neuron: number) => ScreenPoint | null;
  /** The same for a token block on the rail. */
  projectToken: (position: number) => ScreenPoint | null;
  xrPanelLines: () => string[];
  /** The neuron explanation view's store (details of the selected neuron, corpus index status). */
  neurons: NeuronStore;
  /** The lines the in-scene neuron explanation panel shows (VR). */
  neuronPanelLines: () => string[];
  /** PNG data URL of that panel's canvas texture, as drawn. */
  neuronPanelImage: () => string | null;
  /** How many times the VR neuron panel's texture was redrawn (three's texture.version). */
  neuronPanelVersion: () => number | null;
  /** The aim feedback label's text (what the ray or mouse is over), or null. */
  aimLabel: () => string | null;
  /** The in-VR control desk: the lines it shows, and a button's centre in world space. */
  vrControlLines: () => string[];
  vrControlPoint: (button: ControlButton) => [number, number, number] | null;
  /** The desktop camera's position (for Reset view). */
  camera: () => { x: number; y: number; z: number };
  /** CPU milliseconds per rendered frame (frame-loop updates + draw submission) since the last reset. */
  frameTimes: (reset?: boolean) => FrameTimerSummary;
}

export interface ScreenPoint {
  x: number;
  y: number;
  visible: boolean;
}

declare global {
  interface Window {
    __circuits?: CircuitsTestHook;
  }
}

export function TestHook({ services, xrStore, layout }: { services: AppServices; xrStore: XRStore; layout: SceneLayout | null }) {
  const gl = useThree((state) => state.gl);
  const camera = useThree((state) => state.camera);
  const scene = useThree((state) => state.scene);
  const timer = useMemo(() => new FrameTimer(), []);
  // Earliest in the frame loop; the scene's onAfterRender closes the measurement.
  useFrame(() => timer.frameStart(), -1000);
  useEffect(() => {
    const previous = scene.onAfterRender;
    scene.onAfterRender = () => timer.frameEnd();
    return () => {
      scene.onAfterRender = previous;
    };
  }, [scene, timer]);
  useEffect(() => {
    const world = new Vector3();
    const toScreen = (point: Vector3): ScreenPoint => {
      camera.updateMatrixWorld();
      point.project(camera);
      const rect = gl.domElement.getBoundingClientRect();
      return {
        x: rect.left + ((point.x + 1) / 2) * rect.width,
        y: rect.top + ((1 - point.y) / 2) * rect.height,
        visible: point.z > -1 && point.z < 1 && Math.abs(point.x) <= 1 && Math.abs(point.y) <= 1,
      };
    };
    window.__circuits = {
      store: services.app,
      activations: services.activations,
      connection: services.connection,
      xrStore,
      layout: () => layout,
      rendererInfo: () => {
        const { render, memory, programs } = gl.info;
        return { calls: render.calls, triangles: render.triangles, points: render.points, frame: render.frame, geometries: memory.geometries, programs: programs?.length ?? 0 };
      },
      neuronWorldPosition: (layer, neuron) => (layout ? neuronPosition(layout, layer, neuron, world).toArray() : null),
      tokenWorldPosition: (position) =>
        layout ? tokenPosition(layout, position, services.app.getState().tokens.length, world).toArray() : null,
      projectNeuron: (layer, neuron) => (layout ? toScreen(neuronPosition(layout, layer, neuron, world)) : null),
      projectToken: (position) =>
        layout ? toScreen(tokenPosition(layout, position, services.app.getState().tokens.length, world)) : null,
      xrPanelLines: () => selectionPanelRegistry.panel?.lines ?? [],
      neurons: neuronServicesFor(services).store,
      neuronPanelLines: () => neuronPanelRegistry.panel?.lines ?? [],
      neuronPanelImage: () => neuronPanelRegistry.panel?.canvas.toDataURL('image/png') ?? null,
      neuronPanelVersion: () => neuronPanelRegistry.panel?.texture.version ?? null,
      aimLabel: () => aimMarkerRegistry.text,
      vrControlLines: () => vrControlsRegistry.panel?.lines ?? [],
      vrControlPoint: (button) => {
        const mesh = scene.getObjectByName('xr-controls-panel');
        if (!mesh) return null;
        const [x, y, w, h] = controlButtons[button];
        const { width, height } = controlPanelPlacement;
        const canvasHeight = (controlPanelPlacement.canvasWidth * height) / width;
        mesh.updateWorldMatrix(true, false);
        const local = new Vector3(((x + w / 2) / controlPanelPlacement.canvasWidth - 0.5) * width, (0.5 - (y + h / 2) / canvasHeight) * height, 0);
        return mesh.localToWorld(local).toArray();
      },
      camera: () => ({ x: camera.position.x, y: camera.position.y, z: camera.position.z }),
      frameTimes: (reset = false) => {
        const summary = timer.summary();
        if (reset) timer.reset();
        return summary;
      },
    };
  }, [services, xrStore, layout, gl, camera, scene, timer]);
  return null;
}
