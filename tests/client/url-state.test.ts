/**
 * The view-state link: every field survives encode → decode (including prompts with spaces,
 * quotes, newlines, '&' and non-ASCII), foreign parameters are kept, and hostile values are
 * dropped rather than trusted.
 */
import { describe, expect, it } from 'vitest';
import { decodeViewState, encodeViewState, type ViewState } from '../../client/state/url-state.js';

describe('view state in the URL', () => {
  it('round-trips every field', () => {
    const state: ViewState = {
      prompt: ' river & "gold"\nnext 東京 100%', target: ' music', distractor: ' gold', action: 'trace', position: 7,
      neuron: { layer: 2, neuron: 913 }, tab: 'circuit', neuronMeasure: 'total', tokenMeasure: 'occlusion',
      pins: ['1_913_24', 'E_4095_0'], supernodes: [['say "gold" & co, 東京', '1_913_24', '2_7_3'], ['g2', '0_-1_4', '3_1_1', '3_2_1']], maxNodes: 120, nodeThreshold: 0.55, edgeThreshold: 0.985,
    };
    const query = encodeViewState(state);
    expect(query.startsWith('?')).toBe(true);
    expect(decodeViewState(query)).toEqual(state);
  });

  it('keeps parameters it does not own and replaces its own', () => {
    const query = encodeViewState({ prompt: 'b' }, '?xr-emulate&p=a&pos=3');
    const params = new URLSearchParams(query);
    expect(params.has('xr-emulate')).toBe(true);
    expect(params.get('p')).toBe('b');
    expect(params.has('pos')).toBe(false);
  });

  it('drops malformed values', () => {
    const state = decodeViewState('?pos=-4&n=L1N2&do=delete&nt=7&mn=99999&tab=x&nm=&p=ok');
    expect(state).toEqual({ prompt: 'ok' });
  });

  it('reads only well-formed supernodes: a label and at least two node ids, all strings', () => {
    const sn = (value: unknown) => decodeViewState(`?sn=${encodeURIComponent(typeof value === 'string' ? value : JSON.stringify(value))}`).supernodes;
    expect(sn([['a', '1_2_3', '1_4_3']])).toEqual([['a', '1_2_3', '1_4_3']]);
    expect(sn('{not json')).toBeUndefined();
    expect(sn({ a: 1 })).toBeUndefined();
    expect(sn([['only one', '1_2_3']])).toBeUndefined();
    expect(sn([['n', 1, 2]])).toBeUndefined();
    expect(sn([['ok', 'x', 'y'], 'junk', ['', 'x', 'y']])).toEqual([['ok', 'x', 'y']]);
    expect(sn(Array.from({ length: 100 }, (_, i) => [`g${i}`, 'x', 'y']))!.length).toBe(64);
    // Nothing to group: no parameter at all.
    expect(new URLSearchParams(encodeViewState({ supernodes: [] })).has('sn')).toBe(false);
  });
});
