/**
 * `window.__circuits`: a small, stable handle for browser tests and benchmarks — the stores,
 * the XR store, renderer statistics, and where neurons and tokens are on screen and in space.
 */
import { useFrame, useThree } from '@react-three/fiber';
import type { XRStore } from '@react-three/xr';
import { useEffect, useMemo } from 'react';
import { Mesh, Quaternion, Sprite, Vector3, type Camera, type Object3D, type Texture } from 'three';
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
import { createBrowserBackend } from '../state/engine-choice.js';

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
  /**
   * Every visible surface in the scene showing canvas text (a texture with userData.minFontPx):
   * its smallest text's visual angle in degrees as seen from the viewer's eye now (the headset
   * in XR, else the desktop camera), worked out from the geometry as placed: per quad facing
   * the eye, metres per texture pixel (world distance between two corners over their texture v
   * span × the canvas height) × the smallest font, over the distance to the quad's centre. An
   * object with several quads (a tag atlas, a box) reports its worst facing quad.
   */
  textAngles: () => TextAngle[];
  /**
   * The viewer's eye now (the headset in XR, else the desktop camera), its forward direction,
   * and every mesh shown in the world whose name matches `pattern` (a RegExp source) with the 8
   * world-space corners of its geometry's bounding box (a flat panel: its 4 corners, twice).
   */
  seenFromEye: (pattern: string) => SeenFromEye;
  /** CPU milliseconds per rendered frame (frame-loop updates + draw submission) since the last reset. */
  frameTimes: (reset?: boolean) => FrameTimerSummary;
  /** A second in-browser engine (a Web Worker of this page), on the bundled model or on files handed to it. */
  createBrowserBackend: typeof createBrowserBackend;
}

export interface TextAngle {
  name: string;
  /** The named ancestors, outermost first, joined by '/'. */
  path: string;
  /** Yaw of the text's centre from the eye's forward (−z), degrees. */
  yaw: number;
  minFontPx: number;
  /** Height of the smallest text in metres, and the eye's distance to it. */
  textMetres: number;
  distance: number;
  degrees: number;
}

export interface SeenFromEye {
  eye: [number, number, number];
  forward: [number, number, number];
  objects: { name: string; path: string; centre: [number, number, number]; corners: [number, number, number][] }[];
}

/** See CircuitsTestHook.seenFromEye. */
export function seenFromEye(scene: Object3D, viewer: Camera, pattern: string): SeenFromEye {
  const match = new RegExp(pattern);
  scene.updateMatrixWorld(true);
  const objects: SeenFromEye['objects'] = [];
  scene.traverse((object) => {
    if (!(object instanceof Mesh) || !match.test(object.name) || !shownInWorld(object)) return;
    const geometry = object.geometry;
    if (!geometry.boundingBox) geometry.computeBoundingBox();
    const { min, max } = geometry.boundingBox!;
    const corners: [number, number, number][] = [];
    for (const x of [min.x, max.x]) for (const y of [min.y, max.y]) for (const z of [min.z, max.z]) {
      corners.push(new Vector3(x, y, z).applyMatrix4(object.matrixWorld).toArray());
    }
    const centre = new Vector3().addVectors(min, max).multiplyScalar(0.5).applyMatrix4(object.matrixWorld).toArray();
    objects.push({ name: object.name, path: pathOf(object), centre, corners });
  });
  return { eye: viewer.getWorldPosition(new Vector3()).toArray(), forward: viewer.getWorldDirection(new Vector3()).toArray(), objects };
}

function shownInWorld(object: Object3D): boolean {
  for (let o: Object3D | null = object; o; o = o.parent) if (!o.visible) return false;
  return true;
}

function nameOf(object: Object3D): string {
  for (let o: Object3D | null = object; o; o = o.parent) if (o.name) return o.name;
  return object.type;
}

function pathOf(object: Object3D): string {
  const names: string[] = [];
  for (let o: Object3D | null = object; o; o = o.parent) if (o.name) names.unshift(o.name);
  return names.join('/');
}

/** See CircuitsTestHook.textAngles. */
export function textAngles(scene: Object3D, eye: Vector3): TextAngle[] {
  const found: TextAngle[] = [];
  const angle = (metres: number, distance: number) => (2 * Math.atan(metres / 2 / distance) * 180) / Math.PI;
  scene.updateMatrixWorld(true);
  scene.traverse((object) => {
    const material = (object as Mesh).material;
    const map: Texture | null | undefined = material && !Array.isArray(material) ? (material as { map?: Texture | null }).map : null;
    const minFontPx = map?.userData.minFontPx as number | undefined;
    const image = map?.image as { height?: number } | undefined;
    if (!map || minFontPx === undefined || !Number.isFinite(minFontPx) || !image?.height || !shownInWorld(object)) return;
    const name = nameOf(object);
    const path = pathOf(object);
    const yawOf = (centre: Vector3) => (Math.atan2(Math.abs(centre.x - eye.x), eye.z - centre.z) * 180) / Math.PI;
    if (object instanceof Sprite) {
      const centre = new Vector3();
      const scale = new Vector3();
      object.matrixWorld.decompose(centre, new Quaternion(), scale);
      const textMetres = (minFontPx * scale.y) / image.height;
      const distance = centre.distanceTo(eye);
      found.push({ name, path, yaw: yawOf(centre), minFontPx, textMetres, distance, degrees: angle(textMetres, distance) });
      return;
    }
    if (!(object instanceof Mesh)) return;
    const position = object.geometry.getAttribute('position');
    const uv = object.geometry.getAttribute('uv');
    if (!position || !uv || position.count % 4 !== 0) return;
    let worst: TextAngle | null = null;
    const corners = [new Vector3(), new Vector3(), new Vector3(), new Vector3()];
    for (let q = 0; q < position.count; q += 4) {
      corners.forEach((c, i) => c.fromBufferAttribute(position, q + i).applyMatrix4(object.matrixWorld));
      const centre = corners.reduce((sum, c) => sum.add(c), new Vector3()).multiplyScalar(0.25);
      // Facing the eye (either side: the panels are double-sided or face the visitor).
      const normal = new Vector3().subVectors(corners[1]!, corners[0]!).cross(new Vector3().subVectors(corners[2]!, corners[0]!)).normalize();
      const toEye = new Vector3().subVectors(eye, centre);
      const distance = toEye.length();
      if (Math.abs(normal.dot(toEye) / distance) < 0.5) continue;
      // Two corners with the same u and different v: the texture's vertical, in metres.
      let metresPerPixel = 0;
      for (let i = 0; i < 4; i++) for (let j = i + 1; j < 4; j++) {
        const du = Math.abs(uv.getX(q + i) - uv.getX(q + j));
        const dv = Math.abs(uv.getY(q + i) - uv.getY(q + j));
        if (du < 1e-6 && dv > 1e-6) metresPerPixel = Math.max(metresPerPixel, corners[i]!.distanceTo(corners[j]!) / (dv * image.height));
      }
      if (metresPerPixel === 0) continue;
      const textMetres = minFontPx * metresPerPixel;
      const entry = { name, path, yaw: yawOf(centre), minFontPx, textMetres, distance, degrees: angle(textMetres, distance) };
      if (!worst || entry.degrees < worst.degrees) worst = entry;
    }
    if (worst) found.push(worst);
  });
  return found;
}

function eyeOf(camera: Camera, presenting: Camera | null): Vector3 {
  return (presenting ?? camera).getWorldPosition(new Vector3());
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
      textAngles: () => textAngles(scene, eyeOf(camera, gl.xr.isPresenting ? gl.xr.getCamera() : null)),
      seenFromEye: (pattern) => seenFromEye(scene, gl.xr.isPresenting ? gl.xr.getCamera() : camera, pattern),
      camera: () => ({ x: camera.position.x, y: camera.position.y, z: camera.position.z }),
      createBrowserBackend,
      frameTimes: (reset = false) => {
        const summary = timer.summary();
        if (reset) timer.reset();
        return summary;
      },
    };
  }, [services, xrStore, layout, gl, camera, scene, timer]);
  return null;
}
