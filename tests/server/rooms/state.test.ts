/**
 * The room snapshot's checks and the pointer rate limiter, without a server: partial updates
 * merge key by key, bad fields are refused in words, the size limit holds, and the token bucket
 * lets through exactly `burst` at once and then `perSecond` (a fake clock).
 */
import { describe, expect, it } from 'vitest';
import { MAX_STATE_BYTES, checkCamera, mergeState } from '../../../server/rooms/state.js';
import { RateLimiter } from '../../../server/rooms/rate-limit.js';

describe('room state', () => {
  it('merges partial updates and leaves the previous state untouched', () => {
    const first = mergeState('room:state', {}, { prompt: 'a', position: 1 });
    const second = mergeState('room:state', first, { position: null, panels: ['circuit'] });
    expect(first).toEqual({ prompt: 'a', position: 1 });
    expect(second).toEqual({ prompt: 'a', position: null, panels: ['circuit'] });
  });

  it('refuses unknown fields, wrong types and oversize snapshots in words', () => {
    expect(() => mergeState('room:state', {}, 'x')).toThrow(/expected an object/);
    expect(() => mergeState('room:state', {}, { token: 'x' })).toThrow(/unknown state field "token"/);
    expect(() => mergeState('room:state', {}, { position: 1.5 })).toThrow(/position/);
    expect(() => mergeState('room:state', {}, { selection: [1] })).toThrow(/selection must be an object/);
    expect(() => mergeState('room:state', {}, { camera: { position: [0, 0, Infinity], target: [0, 0, 0] } })).toThrow(/three finite numbers/);
    const near = { circuit: { blob: 'x'.repeat(MAX_STATE_BYTES - 100) } };
    const state = mergeState('room:state', {}, near);
    expect(() => mergeState('room:state', state, { question: { more: 'y'.repeat(200) } })).toThrow(new RegExp(`over the limit of ${MAX_STATE_BYTES}`));
  });

  it('carries a tour caption, cleared with null; refuses a caption that is not text', () => {
    const shown = mergeState('room:state', { prompt: 'a' }, { caption: 'L1H4 copies the word after “ green”.' });
    expect(shown).toEqual({ prompt: 'a', caption: 'L1H4 copies the word after “ green”.' });
    expect(mergeState('room:state', shown, { caption: null })).toEqual({ prompt: 'a', caption: null });
    expect(() => mergeState('room:state', {}, { caption: 3 })).toThrow(/caption must be a string/);
    expect(() => mergeState('room:state', {}, { caption: 'x'.repeat(5000) })).toThrow(/caption must be a string of at most 4000/);
  });
});

describe('camera pose', () => {
  it('carries a VR presenter\'s hands and refuses more than two or a non-boolean vr flag', () => {
    const pose = { position: [0, 1.6, 0], target: [0, 1.6, -2], hands: [[-0.2, 1.3, -0.3], [0.2, 1.3, -0.3]], vr: true };
    expect(checkCamera('room:camera', pose)).toEqual(pose);
    expect(checkCamera('room:camera', { position: [0, 1, 0], target: [0, 0, 0] })).toEqual({ position: [0, 1, 0], target: [0, 0, 0] });
    expect(() => checkCamera('room:camera', { ...pose, hands: [[0, 0, 0], [0, 0, 0], [0, 0, 0]] })).toThrow(/at most two/);
    expect(() => checkCamera('room:camera', { ...pose, hands: [[0, 0]] })).toThrow(/camera.hands\[0\] must be three finite numbers/);
    expect(() => checkCamera('room:camera', { ...pose, vr: 'yes' })).toThrow(/camera.vr must be true or false/);
    expect(() => checkCamera('room:camera', { ...pose, head: [0, 0, 0] })).toThrow(/unknown camera field head/);
  });
});

describe('rate limiter', () => {
  it('passes the burst at once, then the sustained rate', () => {
    let t = 0;
    const limiter = new RateLimiter(30, 10, () => t);
    const passed = () => Array.from({ length: 100 }, () => limiter.take()).filter(Boolean).length;
    expect(passed()).toBe(10);
    t += 1000;
    expect(passed()).toBe(10); // refills to the burst, not beyond
    let total = 0;
    for (let i = 0; i < 300; i++) { t += 10; total += limiter.take() ? 1 : 0; } // 100 Hz for 3 s
    expect(total).toBeGreaterThanOrEqual(89);
    expect(total).toBeLessThanOrEqual(91);
  });
});
