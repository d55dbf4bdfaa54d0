/**
 * The tour's state outside the page: a view as the room carries it passes the server's own
 * check of room state (server/rooms/state.ts mergeState) and comes back the same; the player's
 * editing (load, record order, reorder, remove, captions, save) keeps the shown beat and writes a
 * file that loads again. (Applying a view needs the page: tests/e2e/tours.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mergeState } from '../../server/rooms/state.js';
import { roomStateToView, viewToRoomState, type TourContext } from '../../client/state/tour.js';
import { createTourPlayer } from '../../client/state/tour-player.js';
import { parseTour, type TourView } from '../../client/state/tour-schema.js';

const view: TourView = {
  prompt: ' a b c a b', target: ' c', distractor: ' a', action: 'trace', position: 4, neuron: { layer: 1, neuron: 7 },
  head: { layer: 1, head: 4 }, tab: 'circuit', neuronMeasure: 'total', tokenMeasure: 'occlusion',
  pins: ['1_7_4'], supernodes: [['copy', '1_7_4', '0_3_3']], maxNodes: 120, nodeThreshold: 0.6, edgeThreshold: 0.95,
};

describe('a tour view in a room', () => {
  it('is a room state the server accepts, and comes back as the same view', () => {
    const camera = { position: [1, 2, 3] as [number, number, number], target: [0, 1, -4] as [number, number, number] };
    const state = viewToRoomState(view, camera);
    const merged = mergeState('room:state', {}, state);
    expect(merged.camera).toEqual(camera);
    expect(roomStateToView(JSON.parse(JSON.stringify(merged)))).toEqual(view);
  });

  it('keeps only view fields from a room state other pages wrote', () => {
    const back = roomStateToView({ prompt: 'x', position: null, selection: { kind: 'node', id: 'E_0' }, question: { action: 'run', colour: 'red' }, circuit: { pins: ['a'], zoom: 3 } });
    expect(back).toEqual({ prompt: 'x', action: 'run', pins: ['a'] });
  });
});

describe('tour player editing', () => {
  // Editing never reads the page: no context is needed (record and goTo are tested in the browser).
  const player = () => createTourPlayer({} as TourContext);

  it('loads the bundled tour, and refuses a broken one in words without losing the loaded one', () => {
    const p = player();
    expect(p.load(readFileSync('assets/tours/induction.json', 'utf8'))).toBe(true);
    const beats = p.store.getState().tour!.beats.length;
    expect(p.load('{"schemaVersion": 1, "kind": "circuits-xr-tour", "title": "x", "beats": [{"caption": "c", "view": {"tab": "graph"}}]}')).toBe(false);
    expect(p.store.getState().error).toMatch(/^Could not load this tour: beats\[0\]\.view\.tab must be one of "effects", "neurons", "circuit" \(got "graph"\)/);
    expect(p.store.getState().tour!.beats).toHaveLength(beats);
  });

  it('reorders, removes and edits captions; the shown beat stays the shown one; save writes a loadable file', () => {
    const p = player();
    p.load({ schemaVersion: 1, kind: 'circuits-xr-tour', title: 'T', beats: ['a', 'b', 'c', 'd'].map((caption) => ({ caption, view: { position: 0 } })) });
    const captions = () => p.store.getState().tour!.beats.map((b) => b.caption);
    p.store.setState({ index: 1 }); // showing "b"
    p.move(1, 1);
    expect(captions()).toEqual(['a', 'c', 'b', 'd']);
    expect(p.store.getState().index).toBe(2);
    p.move(3, -1); // "d" swaps with the shown "b"
    expect(captions()).toEqual(['a', 'c', 'd', 'b']);
    expect(p.store.getState().index).toBe(3);
    p.move(0, -1); // nothing before the first
    expect(captions()).toEqual(['a', 'c', 'd', 'b']);
    p.remove(0);
    expect(captions()).toEqual(['c', 'd', 'b']);
    expect(p.store.getState().index).toBe(2);
    p.setCaption(0, 'C!');
    p.setTitle('Renamed');
    const text = p.save();
    const parsed = parseTour(text!);
    expect(parsed.ok && parsed.value.beats.map((b) => b.caption)).toEqual(['C!', 'd', 'b']);
    expect(parsed.ok && parsed.value.title).toBe('Renamed');
    // An empty caption cannot be saved: the error names it.
    p.setCaption(1, '');
    expect(p.save()).toBeNull();
    expect(p.store.getState().error).toMatch(/beats\[1\]\.caption must be a non-empty string/);
  });
});
