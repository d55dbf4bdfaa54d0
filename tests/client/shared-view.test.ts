/**
 * The shared view (client/state/shared-view.ts): what a room and a tour beat carry of the page is
 * captured from the stores and applied to another page's stores, key by key, and survives JSON.
 */
import { describe, expect, it } from 'vitest';
import { createAnalysisStore } from '../../client/analysis/state/analysis-store.js';
import { createAppStore } from '../../client/state/app-store.js';
import { applySharedView, captureSharedView, changedKeys, type SharedViewStores } from '../../client/state/shared-view.js';
import { createUiPrefsStore } from '../../client/state/ui-prefs.js';

const tokens = [0, 1, 2, 3, 4].map((id) => ({ id, text: `t${id}` }));
const page = (): SharedViewStores => ({ app: createAppStore(), analysis: createAnalysisStore(), prefs: createUiPrefsStore(undefined) });

describe('shared view', () => {
  it('captures a page and applies it to another, which then captures the same', () => {
    const a = page();
    a.app.setState({ tokens, position: 3, selection: { layer: 2, neuron: 17 } });
    a.analysis.setState({
      prompt: ' the cat', target: ' sat', distractor: ' ran', tokenMeasure: 'occlusion', neuronMeasure: 'total', layerFilter: 1,
      selectedHead: { layer: 0, head: 2 }, maxNodes: 120, pinnedIds: ['mlp.1.5@3'], supernodes: [['copy', 'a', 'b']],
      nodeThreshold: 0.6, edgeThreshold: 0.9, nodeBudget: 12, focusNodeId: 'x', showPaths: false,
    });
    a.prefs.setState({ leftOpen: false, rightOpen: true, legendOpen: true, analysisTab: 'circuit' });
    const shared = JSON.parse(JSON.stringify(captureSharedView(a)));
    expect(shared.panels).toEqual(['panels', 'legend', 'tab:circuit']);
    expect(shared.selection).toEqual({ kind: 'neuron', layer: 2, index: 17 });

    const b = page();
    b.app.setState({ tokens });
    applySharedView(b, shared);
    expect(captureSharedView(b)).toEqual(shared);
    expect(b.app.getState().selection).toEqual({ layer: 2, neuron: 17 });
    expect(b.analysis.getState().pinnedIds).toEqual(['mlp.1.5@3']);
    expect(b.prefs.getState().analysisTab).toBe('circuit');
  });

  it('applies only the keys present, clamps the position to the tokens shown, and skips malformed values', () => {
    const b = page();
    b.app.setState({ tokens: tokens.slice(0, 2), selection: { layer: 1, neuron: 1 } });
    b.analysis.setState({ prompt: 'kept' });
    applySharedView(b, { position: 9, question: { tokenMeasure: 'bogus', maxNodes: 50 } });
    expect(b.app.getState().position).toBe(1);
    expect(b.app.getState().selection).toEqual({ layer: 1, neuron: 1 });
    expect(b.analysis.getState().prompt).toBe('kept');
    expect(b.analysis.getState().tokenMeasure).toBe('gradXInput');
    expect(b.analysis.getState().maxNodes).toBe(50);
  });

  it('sends only what changed', () => {
    expect(changedKeys({ prompt: 'a', position: 1, panels: ['x'] }, { prompt: 'a', position: 2, panels: ['x'] })).toEqual({ position: 2 });
  });
});
