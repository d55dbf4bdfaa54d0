/**
 * Which inputs step a tour: keys (arrows, and Page Up/Down from presentation clickers; not with
 * modifiers) and VR controller buttons (on the press, not while held).
 */
import { describe, expect, it } from 'vitest';
import { tourKeyStep } from '../../client/state/tour-player.js';
import { tourButtonStep } from '../../client/xr/tour-vr.js';

const key = (k: string, mods: Partial<{ ctrlKey: boolean; metaKey: boolean; altKey: boolean }> = {}) => ({ key: k, ctrlKey: false, metaKey: false, altKey: false, ...mods });

describe('tour inputs', () => {
  it('steps with arrows and clicker keys, not with modifiers or other keys', () => {
    expect(tourKeyStep(key('ArrowRight'))).toBe(1);
    expect(tourKeyStep(key('PageDown'))).toBe(1);
    expect(tourKeyStep(key('ArrowLeft'))).toBe(-1);
    expect(tourKeyStep(key('PageUp'))).toBe(-1);
    expect(tourKeyStep(key('ArrowRight', { altKey: true }))).toBeNull();
    expect(tourKeyStep(key('PageDown', { ctrlKey: true }))).toBeNull();
    expect(tourKeyStep(key('w'))).toBeNull();
    expect(tourKeyStep(key('ArrowUp'))).toBeNull();
  });

  it('steps on a controller button press, once, not while it is held', () => {
    expect(tourButtonStep(new Set(['a-button']), new Set())).toBe(1);
    expect(tourButtonStep(new Set(['y-button']), new Set())).toBe(1);
    expect(tourButtonStep(new Set(['b-button']), new Set())).toBe(-1);
    expect(tourButtonStep(new Set(['x-button']), new Set())).toBe(-1);
    expect(tourButtonStep(new Set(['a-button']), new Set(['a-button']))).toBeNull();
    expect(tourButtonStep(new Set(['trigger']), new Set())).toBeNull();
    expect(tourButtonStep(new Set(), new Set(['a-button']))).toBeNull();
  });
});
