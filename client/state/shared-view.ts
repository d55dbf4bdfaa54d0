/**
 * The shared view: what a presentation room (and a tour beat) carries of the page — the question
 * (prompt, target, distractor), the selected position and neuron, the analysis settings, the
 * circuit's pins, supernodes and pruning, and which panels are open. Two plain functions over the
 * stores: `captureSharedView` reads it as a RoomState (JSON, see shared/protocol.ts), and
 * `applySharedView` writes a RoomState back (only the keys present; a re-prune only when the
 * pruning settings or pins changed). The camera is carried by the room separately.
 */
import type { RoomState } from '../../shared/protocol.js';
import type { AnalysisState, AnalysisStore, NeuronEffectMeasure, TokenEffectMeasure } from '../analysis/state/analysis-store.js';
import { reprune } from '../analysis/state/circuit.js';
import type { AppStore, NeuronRef } from './app-store.js';
import type { AnalysisTab, UiPrefs } from './ui-prefs.js';

/** The stores the shared view lives in (uiPrefs is the page's panel store, see ui-prefs.ts). */
export interface SharedViewStores {
  app: AppStore;
  analysis: AnalysisStore;
  prefs: { getState(): UiPrefs; setState(partial: Partial<UiPrefs>): void; subscribe(listener: () => void): () => void };
}

/** The analysis question's settings as the room carries them. */
export interface SharedQuestion {
  tokenMeasure: TokenEffectMeasure;
  neuronMeasure: NeuronEffectMeasure;
  layerFilter: number | null;
  selectedHead: { layer: number; head: number } | null;
  maxNodes: number;
}

/** The circuit view as the room carries it (the graph itself travels as the trace's result). */
export interface SharedCircuit {
  pinnedIds: string[];
  supernodes: string[][];
  nodeThreshold: number;
  edgeThreshold: number;
  nodeBudget: number;
  focusNodeId: string | null;
  showPaths: boolean;
}

/** Panel names in RoomState.panels: the docks, the legend, and the analysis tab as `tab:<name>`. */
export const PANEL_NAMES = { left: 'question', right: 'panels', legend: 'legend' } as const;
const TABS: readonly AnalysisTab[] = ['effects', 'neurons', 'circuit'];

/** A selection as the room carries it, and back (neurons so far). */
export function selectionToRoom(selection: NeuronRef | null): RoomState['selection'] {
  return selection ? { kind: 'neuron', layer: selection.layer, index: selection.neuron } : null;
}
export function selectionFromRoom(selection: RoomState['selection']): NeuronRef | null {
  if (!selection || selection.kind !== 'neuron') return null;
  const { layer, index } = selection as { layer?: unknown; index?: unknown };
  return Number.isInteger(layer) && Number.isInteger(index) ? { layer: layer as number, neuron: index as number } : null;
}

export function questionOf(a: AnalysisState): SharedQuestion {
  return { tokenMeasure: a.tokenMeasure, neuronMeasure: a.neuronMeasure, layerFilter: a.layerFilter, selectedHead: a.selectedHead, maxNodes: a.maxNodes };
}

export function circuitOf(a: AnalysisState): SharedCircuit {
  return {
    pinnedIds: a.pinnedIds, supernodes: a.supernodes, nodeThreshold: a.nodeThreshold, edgeThreshold: a.edgeThreshold,
    nodeBudget: a.nodeBudget, focusNodeId: a.focusNodeId, showPaths: a.showPaths,
  };
}

export function panelsOf(p: UiPrefs): string[] {
  const panels: string[] = [];
  if (p.leftOpen) panels.push(PANEL_NAMES.left);
  if (p.rightOpen) panels.push(PANEL_NAMES.right);
  if (p.legendOpen) panels.push(PANEL_NAMES.legend);
  panels.push(`tab:${p.analysisTab}`);
  return panels;
}

/** The whole shared view now (camera excluded). */
export function captureSharedView(stores: SharedViewStores): RoomState {
  const app = stores.app.getState();
  const a = stores.analysis.getState();
  return {
    prompt: a.prompt,
    target: a.target,
    distractor: a.distractor,
    position: app.tokens.length > 0 ? app.position : null,
    selection: selectionToRoom(app.selection),
    question: { ...questionOf(a) },
    circuit: { ...circuitOf(a) },
    panels: panelsOf(stores.prefs.getState()),
  };
}

/** Only the keys of `now` that differ from `before` (JSON comparison): the update to send. */
export function changedKeys(before: RoomState, now: RoomState): RoomState {
  const update: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(now)) {
    if (JSON.stringify(value) !== JSON.stringify((before as Record<string, unknown>)[key])) update[key] = value;
  }
  return update as RoomState;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const stringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** Applies the keys present in `state` to the stores (unknown or malformed values are skipped). */
export function applySharedView(stores: SharedViewStores, state: RoomState): void {
  const analysisPatch: Partial<AnalysisState> = {};
  if (typeof state.prompt === 'string') analysisPatch.prompt = state.prompt;
  if (typeof state.target === 'string') analysisPatch.target = state.target;
  if (typeof state.distractor === 'string') analysisPatch.distractor = state.distractor;
  if (isObject(state.question)) {
    const q = state.question;
    if (q.tokenMeasure === 'gradXInput' || q.tokenMeasure === 'occlusion') analysisPatch.tokenMeasure = q.tokenMeasure;
    if (q.neuronMeasure === 'direct' || q.neuronMeasure === 'total') analysisPatch.neuronMeasure = q.neuronMeasure;
    if (q.layerFilter === null || Number.isInteger(q.layerFilter)) analysisPatch.layerFilter = q.layerFilter as number | null;
    if (q.selectedHead === null || (isObject(q.selectedHead) && Number.isInteger(q.selectedHead.layer) && Number.isInteger(q.selectedHead.head))) {
      analysisPatch.selectedHead = q.selectedHead as SharedQuestion['selectedHead'];
    }
    if (Number.isInteger(q.maxNodes)) analysisPatch.maxNodes = q.maxNodes as number;
  }
  let prune = false;
  if (isObject(state.circuit)) {
    const c = state.circuit;
    const before = stores.analysis.getState();
    if (stringList(c.pinnedIds) && JSON.stringify(c.pinnedIds) !== JSON.stringify(before.pinnedIds)) { analysisPatch.pinnedIds = c.pinnedIds; prune = true; }
    if (Array.isArray(c.supernodes) && c.supernodes.every(stringList) && JSON.stringify(c.supernodes) !== JSON.stringify(before.supernodes)) {
      analysisPatch.supernodes = c.supernodes as string[][];
    }
    for (const key of ['nodeThreshold', 'edgeThreshold', 'nodeBudget'] as const) {
      const v = c[key];
      if (typeof v === 'number' && Number.isFinite(v) && v !== before[key]) { analysisPatch[key] = v; prune = true; }
    }
    if (c.focusNodeId === null || typeof c.focusNodeId === 'string') analysisPatch.focusNodeId = c.focusNodeId;
    if (typeof c.showPaths === 'boolean') analysisPatch.showPaths = c.showPaths;
  }
  if (Object.keys(analysisPatch).length > 0) stores.analysis.setState(analysisPatch);
  if (prune && stores.analysis.getState().graphIndex) void reprune(stores.analysis);

  const app = stores.app.getState();
  const appPatch: Record<string, unknown> = {};
  if (typeof state.position === 'number' && app.tokens.length > 0) appPatch.position = Math.min(state.position, app.tokens.length - 1);
  if (state.selection !== undefined) {
    const selection = selectionFromRoom(state.selection);
    if (JSON.stringify(selection) !== JSON.stringify(app.selection)) appPatch.selection = selection;
  }
  if (Object.keys(appPatch).length > 0) stores.app.setState({ ...appPatch, followLive: false });

  if (stringList(state.panels)) {
    const tab = state.panels.find((p) => p.startsWith('tab:'))?.slice(4) as AnalysisTab | undefined;
    stores.prefs.setState({
      leftOpen: state.panels.includes(PANEL_NAMES.left),
      rightOpen: state.panels.includes(PANEL_NAMES.right),
      legendOpen: state.panels.includes(PANEL_NAMES.legend),
      ...(tab && TABS.includes(tab) ? { analysisTab: tab } : {}),
    });
  }
}
