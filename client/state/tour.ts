/**
 * Capture and apply the shared view, for tours and replays (one apply for both):
 * - `captureView` reads the view as the link does (view-session.ts's currentViewState, the
 *   url-state.ts shape) plus the selected attention head and the supernodes;
 * - `applyView` makes the page show a view: it sets the question, runs only what differs (the
 *   same prompt and action are not run again: stepping between beats on one prompt moves the
 *   selection, not the model), then the circuit's thresholds, pins and supernodes, the position,
 *   the neuron and head, and the tab;
 * - `tourCamera` is where the scene registers the desktop camera (client/scene/tour-camera.tsx):
 *   read its pose, move it smoothly.
 * Rooms: `tourRoom.publish` is called with every view a tour or replay applies; the room sync
 * (client/state/room.ts) connects it to send the view to the room ('room:state' via
 * `viewToRoomState`). Applied on the presenter's page, a beat's runs are the presenter's runs,
 * which the server already broadcasts to the room.
 */
import type { CameraPose, RoomState } from '../../shared/protocol.js';
import type { AnalysisServices } from '../analysis/state/analysis-services.js';
import { reprune } from '../analysis/state/circuit.js';
import { currentViewState } from '../ui/view-session.js';
import type { AppServices } from './app-context.js';
import { selectionFromRoom, selectionToRoom } from './room.js';
import { viewKeys, type TourBeat, type TourView } from './tour-schema.js';
import { uiPrefs } from './ui-prefs.js';

export interface TourContext {
  services: AppServices;
  analysis: AnalysisServices;
}

/** The desktop camera, as the scene registers it (null outside the Canvas or before it mounts). */
export const tourCamera: {
  get: (() => CameraPose | null) | null;
  /** Moves smoothly to `pose` over `ms`; resolves when there (at once in XR: heads are never moved). */
  moveTo: ((pose: CameraPose, ms: number) => Promise<void>) | null;
} = { get: null, moveTo: null };

/** The room's side of tours and replays (see the header); null until the room sync sets it. */
export const tourRoom: { publish: ((view: TourView, camera: CameraPose | null) => void) | null } = { publish: null };

export function captureView({ services, analysis }: TourContext): TourView {
  const view: TourView = { ...currentViewState(services, analysis) };
  const a = analysis.store.getState();
  if (a.selectedHead) view.head = { ...a.selectedHead };
  if (view.action === 'trace' && a.supernodes.length > 0) view.supernodes = a.supernodes.map((g) => [...g]);
  for (const key of Object.keys(view) as (keyof TourView)[]) if (view[key] === undefined) delete view[key];
  return view;
}

export function captureBeat(context: TourContext, caption: string): TourBeat {
  const camera = tourCamera.get?.() ?? null;
  return { caption, view: captureView(context), ...(camera ? { camera } : {}) };
}

const rank = { run: 1, explain: 2, trace: 3 } as const;

/** Makes the page show `view`; resolves once its runs and analyses are done. */
export async function applyView({ services, analysis }: TourContext, view: TourView): Promise<void> {
  const { app, connection } = services;
  const { store, requests } = analysis;
  const now = currentViewState(services, analysis);
  const question = {
    prompt: view.prompt ?? store.getState().prompt,
    target: view.target ?? store.getState().target,
    distractor: view.distractor ?? store.getState().distractor,
  };
  const sameQuestion = question.prompt === now.prompt && question.target === now.target && question.distractor === now.distractor;
  store.setState({
    ...question,
    ...(view.neuronMeasure ? { neuronMeasure: view.neuronMeasure } : {}),
    ...(view.tokenMeasure ? { tokenMeasure: view.tokenMeasure } : {}),
    ...(view.maxNodes ? { maxNodes: view.maxNodes } : {}),
  });
  const action = view.action;
  if (action && !(sameQuestion && now.action === action)) {
    // Answers that do not belong to the new view go, so the page does not show an older one.
    if (!sameQuestion || rank[action] < rank[now.action ?? 'run']) {
      if (action !== 'trace') store.setState({ graph: null, graphIndex: null, graphSource: null, prune: null, graphStatus: 'idle', pinnedIds: [], supernodes: [] });
      if (action === 'run') store.setState({ effects: null, effectsStatus: 'idle', warnings: [], error: null });
    }
    if (action === 'run') {
      if (!sameQuestion || app.getState().tokens.length === 0) await connection.runPrompt(question.prompt);
    } else if (action === 'explain') {
      await requests.explain();
    } else {
      await requests.trace(true);
    }
  }
  const a = store.getState();
  if (a.graph && a.prune) {
    const known = new Set(a.graph.nodes.map((n) => n.node_id));
    store.setState({
      ...(view.nodeThreshold !== undefined ? { nodeThreshold: view.nodeThreshold } : {}),
      ...(view.edgeThreshold !== undefined ? { edgeThreshold: view.edgeThreshold } : {}),
      pinnedIds: (view.pins ?? []).filter((id) => known.has(id)),
      supernodes: (view.supernodes ?? []).map((group) => [group[0]!, ...group.slice(1).filter((id) => known.has(id))]).filter((g) => g.length > 2),
    });
    await reprune(store);
  }
  const { tokens, model } = app.getState();
  if (view.position !== undefined && tokens.length > 0) app.setState({ position: Math.min(tokens.length - 1, view.position), followLive: false });
  const n = view.neuron;
  app.setState({ selection: n && model && n.layer < model.nLayers && n.neuron < model.neuronsPerLayer ? { ...n } : null });
  const h = view.head;
  store.setState({ selectedHead: h && model && h.layer < model.nLayers && h.head < model.nHeads ? { ...h } : null });
  if (view.tab) {
    uiPrefs.setState({ analysisTab: view.tab });
    // The results tab follows a finished Explain or Trace once React renders it: set it again after.
    const tab = view.tab;
    setTimeout(() => uiPrefs.setState({ analysisTab: tab }), 100);
  }
}

/** A view as the room's shared state carries it (prompt and question text at the top level,
 * the rest under `question` and `circuit`), and back: the contract for the room sync. */
export function viewToRoomState(view: TourView, camera: CameraPose | null = null): RoomState {
  const state: RoomState = {};
  if (view.prompt !== undefined) state.prompt = view.prompt;
  if (view.target !== undefined) state.target = view.target;
  if (view.distractor !== undefined) state.distractor = view.distractor;
  if (view.position !== undefined) state.position = view.position;
  state.selection = selectionToRoom(view.neuron ?? null);
  state.question = strip({ action: view.action, tab: view.tab, neuronMeasure: view.neuronMeasure, tokenMeasure: view.tokenMeasure, head: view.head });
  state.circuit = strip({ pins: view.pins, supernodes: view.supernodes, maxNodes: view.maxNodes, nodeThreshold: view.nodeThreshold, edgeThreshold: view.edgeThreshold });
  if (camera) state.camera = camera;
  return state;
}

export function roomStateToView(state: RoomState): TourView {
  const view: Record<string, unknown> = {
    prompt: state.prompt, target: state.target, distractor: state.distractor,
    position: typeof state.position === 'number' ? state.position : undefined,
    neuron: selectionFromRoom(state.selection ?? null) ?? undefined,
    ...(state.question ?? {}), ...(state.circuit ?? {}),
  };
  // Only the fields a view has (another page may have put more into the room's records).
  for (const key of Object.keys(view)) if (view[key] === undefined || !(viewKeys as readonly string[]).includes(key)) delete view[key];
  return view as TourView;
}

function strip(record: Record<string, unknown>): Record<string, unknown> {
  for (const key of Object.keys(record)) if (record[key] === undefined) delete record[key];
  return record;
}
