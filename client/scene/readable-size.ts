/**
 * How big world-fixed text must be to read from where the visitor stands. The entrance eye is
 * the XR origin at eye height, looking down −z (client/xr/panel-placement.ts); the far end (the
 * prediction board, the circuit panel, the deeper layers' tags) is 10–25 m from it, so text
 * there is scaled with its distance to span at least `readableDegrees` (a margin over the 1°
 * the VR test asks for: tests/e2e/ux-readable.test.ts measures every canvas text in the scene).
 */
import { eyeHeight } from '../xr/panel-placement.js';

export const readableDegrees = 1.1;

/** Metres a line of text must be tall to span `degrees` at `distance` metres. */
export function textMetresFor(distance: number, degrees = readableDegrees): number {
  return 2 * distance * Math.tan(((degrees / 2) * Math.PI) / 180);
}

/** Distance from the entrance eye to a point. */
export function entranceDistance(x: number, y: number, z: number): number {
  return Math.hypot(x, y - eyeHeight, z);
}

/**
 * The factor (≥ 1) to scale a surface by so that its smallest text, `textMetres` tall at scale
 * 1, reads at `readableDegrees` from the entrance eye at the surface's centre (x, y, z).
 */
export function entranceScale(textMetres: number, x: number, y: number, z: number): number {
  return Math.max(1, textMetresFor(entranceDistance(x, y, z)) / textMetres);
}
