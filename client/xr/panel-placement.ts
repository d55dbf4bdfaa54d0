/**
 * Where the in-VR panels hang, as angles from the visitor's standing head (the XR origin's
 * y = eyeHeight, looking down −z), so the rules are the placement itself: 1–2 m away, centres
 * within 50° of the forward view, each facing the eyes, all above the line of sight to the token
 * rail (whose top comes nearer the horizon the further sideways it reaches), and sized so their
 * smallest text spans at least 1° of visual angle (tests/client/xr-panels.test.ts checks all of
 * it from this geometry). Pure: no three.js objects, only numbers.
 */

export const eyeHeight = 1.6;

export interface PanelPlacement {
  name: string;
  /** Degrees: + is to the left (counter-clockwise seen from above), as three.js' yaw. */
  yaw: number;
  /** Degrees above the horizon (negative: below). */
  pitch: number;
  /** Metres from the eyes to the panel's centre. */
  distance: number;
  /** The plane's size in metres. */
  width: number;
  height: number;
  /** The canvas texture's width in pixels, and the smallest font drawn on it. */
  canvasWidth: number;
  minFontPx: number;
}

const rad = Math.PI / 180;

/** The panel's centre (x, y, z) in the XR origin's frame. */
export function panelPosition(p: PanelPlacement): [number, number, number] {
  const horizontal = p.distance * Math.cos(p.pitch * rad);
  return [-Math.sin(p.yaw * rad) * horizontal, eyeHeight + p.distance * Math.sin(p.pitch * rad), -Math.cos(p.yaw * rad) * horizontal];
}

/** Euler angles (order 'YXZ') turning the plane's front (+z) toward the eyes. */
export function panelRotation(p: PanelPlacement): [number, number, number, 'YXZ'] {
  return [p.pitch * rad, p.yaw * rad, 0, 'YXZ'];
}

/** Degrees of visual angle the smallest text spans at the panel's centre distance. */
export function minTextAngle(p: PanelPlacement): number {
  const metres = (p.minFontPx * p.width) / p.canvasWidth;
  return (2 * Math.atan(metres / 2 / p.distance)) / rad;
}

/** The selected neuron and position: to the left, a little above eye level. */
export const selectionPanelPlacement: PanelPlacement = {
  name: 'selection', yaw: 36, pitch: 6, distance: 1.3, width: 0.64, height: 0.4, canvasWidth: 640, minFontPx: 30,
};

/** The neuron explanation (bigger, so nearer and higher): to the right. */
export const neuronPanelPlacement: PanelPlacement = {
  name: 'neuron', yaw: -33, pitch: 11, distance: 1.05, width: 0.8, height: 0.7, canvasWidth: 1024, minFontPx: 24,
};

/** Presets, Run, Explain, Trace: straight ahead and low, under the rail's line of sight, like a desk. */
export const controlPanelPlacement: PanelPlacement = {
  name: 'controls', yaw: 0, pitch: -40, distance: 1.05, width: 0.6, height: 0.26, canvasWidth: 600, minFontPx: 26,
};
