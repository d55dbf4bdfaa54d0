/**
 * Aim feedback bookkeeping (client/state/app-store.ts aimAt/aimLeave): two pointers (controller
 * rays) — one resting on a neuron must not take the label back from the one that moves; leaving
 * one thing and entering another may arrive in either order.
 */
import { describe, expect, it } from 'vitest';
import { aimAt, aimLeave, createAppStore } from '../../client/state/app-store.js';

describe('aim', () => {
  it('follows the pointer that moved, and clears only its own aim', () => {
    const app = createAppStore();
    aimAt(app, { kind: 'neuron', layer: 0, neuron: 427 }, 1); // left ray, resting
    aimAt(app, { kind: 'neuron', layer: 0, neuron: 900 }, 2); // right ray, moving
    aimAt(app, { kind: 'neuron', layer: 0, neuron: 427 }, 1); // left again, unchanged: ignored
    expect(app.getState().aimed).toEqual({ kind: 'neuron', layer: 0, neuron: 900 });
    // Right ray: enters a token before the cloud's leave arrives.
    aimAt(app, { kind: 'token', position: 3 }, 2);
    aimLeave(app, 2, { kind: 'neuron' });
    expect(app.getState().aimed).toEqual({ kind: 'token', position: 3 });
    // The left ray leaving its neuron does not clear the right ray's token.
    aimLeave(app, 1, { kind: 'neuron' });
    expect(app.getState().aimed).toEqual({ kind: 'token', position: 3 });
    aimLeave(app, 2, { kind: 'token', position: 3 });
    expect(app.getState().aimed).toBeNull();
  });
});
