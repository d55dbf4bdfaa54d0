/**
 * The in-VR panels' geometry (client/xr/panel-placement.ts), checked from first principles with
 * three.js: each panel's centre 1–2 m from the eyes,
 * within 50° of the forward view; facing the eyes; its smallest text ≥ 1° of visual angle; and
 * no point of it in front of any part of the token rail, however long the rail (sampled over
 * the panel's surface against the rail's angular band at the same yaw).
 */
import { describe, expect, it } from 'vitest';
import { Euler, Vector3 } from 'three';
import {
  controlPanelPlacement,
  eyeHeight,
  minTextAngle,
  neuronPanelPlacement,
  panelPosition,
  panelRotation,
  selectionPanelPlacement,
  type PanelPlacement,
} from '../../client/xr/panel-placement.js';
import { createSceneLayout } from '../../client/scene/layout.js';
import { tourCaptionPlacement } from '../../client/xr/tour-vr.js';

const layout = createSceneLayout({ nLayers: 4, neuronsPerLayer: 1024, nHeads: 8 });
const eye = new Vector3(0, eyeHeight, 0);
const deg = 180 / Math.PI;

function surfacePoints(p: PanelPlacement, n = 21): Vector3[] {
  const centre = new Vector3(...panelPosition(p));
  const [x, y, z, order] = panelRotation(p);
  const euler = new Euler(x, y, z, order);
  const points: Vector3[] = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    points.push(new Vector3((i / (n - 1) - 0.5) * p.width, (j / (n - 1) - 0.5) * p.height, 0).applyEuler(euler).add(centre));
  }
  return points;
}

/** The rail's pitch band (degrees) seen at yaw ψ: its blocks' front faces, any length. */
function railBand(yawDeg: number): [number, number] {
  const blockHalfHeight = 0.055;
  const front = Math.abs(layout.railZ) - 0.025;
  const horizontal = front / Math.cos(yawDeg / deg);
  return [Math.atan((layout.railY - blockHalfHeight - eyeHeight) / horizontal) * deg, Math.atan((layout.railY + blockHalfHeight - eyeHeight) / horizontal) * deg];
}

const panels = [selectionPanelPlacement, neuronPanelPlacement, controlPanelPlacement, tourCaptionPlacement];

describe('VR panel placement', () => {
  for (const p of panels) {
    it(`${p.name}: distance, direction, facing, text size, clear of the rail`, () => {
      const centre = new Vector3(...panelPosition(p));
      const toPanel = centre.clone().sub(eye);
      const distance = toPanel.length();
      expect(distance).toBeGreaterThanOrEqual(1);
      expect(distance).toBeLessThanOrEqual(2);
      const forwardAngle = toPanel.clone().setY(0).angleTo(new Vector3(0, 0, -1)) * deg;
      expect(forwardAngle).toBeLessThanOrEqual(50);
      // Facing the eyes: the plane's normal points back at them.
      const [x, y, z, order] = panelRotation(p);
      const normal = new Vector3(0, 0, 1).applyEuler(new Euler(x, y, z, order));
      expect(normal.angleTo(eye.clone().sub(centre)) * deg).toBeLessThan(1);
      // Smallest text: its height in metres over its true distance, not the formula under test.
      const fontMetres = (p.minFontPx * p.width) / p.canvasWidth;
      expect(2 * Math.atan(fontMetres / 2 / distance) * deg).toBeGreaterThanOrEqual(1);
      expect(minTextAngle(p)).toBeCloseTo(2 * Math.atan(fontMetres / 2 / distance) * deg, 6);
      // Never over the rail: no point of the panel lies inside the rail's band at its yaw.
      for (const point of surfacePoints(p)) {
        const v = point.clone().sub(eye);
        const horizontal = Math.hypot(v.x, v.z);
        expect(horizontal).toBeLessThan(Math.abs(layout.railZ)); // nearer than the rail: it would hide it
        const yaw = Math.atan2(-v.x, -v.z) * deg;
        const pitch = Math.atan2(v.y, horizontal) * deg;
        const [low, high] = railBand(yaw);
        expect(pitch > high + 0.5 || pitch < low - 0.5, `${p.name} point at yaw ${yaw.toFixed(1)}°, pitch ${pitch.toFixed(1)}° over the rail [${low.toFixed(1)}, ${high.toFixed(1)}]`).toBe(true);
      }
    });
  }

});
