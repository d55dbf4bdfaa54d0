/**
 * One analysis store and its requests per app (keyed by the app's services), created on first
 * use, so HTML panels and scene components (inside the Canvas, which bridges React context)
 * share them without a provider. Also publishes `window.__circuitsAnalysis` for browser tests.
 */
import type { AppServices } from '../../state/app-context.js';
import { useAppServices } from '../../state/app-context.js';
import { createAnalysisStore, type AnalysisStore } from './analysis-store.js';
import { setupCircuitHighlight } from './circuit.js';
import { setupNeuronNotes } from './neuron-notes.js';
import { createAnalysisRequests, type AnalysisRequests } from './requests.js';

export interface AnalysisServices {
  store: AnalysisStore;
  requests: AnalysisRequests;
}

/** Test and tool handle: the store, and where the circuit's nodes are drawn. */
export interface AnalysisTestHook {
  store: AnalysisStore;
  /** World position of a graph node as drawn, or null when not drawn. */
  nodeWorldPosition: (nodeId: string) => [number, number, number] | null;
  /** PNG data URL of the current view (needs the canvas's preserveDrawingBuffer). */
  snapshot: () => string | null;
  /** The lines the in-scene circuit panel shows (VR). */
  panelLines: () => string[];
  /** The name tags drawn over circuit nodes in 3D (pinned, hovered, supernodes). */
  labelTexts: () => string[];
  /** What the 3D circuit draws now: its node ids (view ids: graph ids, `group:{label}`), link segments, visibility. */
  circuitDrawn: () => { nodeIds: string[]; links: number; visible: boolean } | null;
  /** The attention arcs drawn over the rail (null when no head is selected). */
  attentionArcs: () => { query: number; keys: { key: number; weight: number }[] } | null;
  /** Where attention head (layer, head) is drawn on the page, in CSS pixels (null when not in view). */
  projectHead: (layer: number, head: number) => { x: number; y: number } | null;
}

declare global {
  interface Window {
    __circuitsAnalysis?: AnalysisTestHook;
  }
}

/** Where the scene registers what only it can reach (the renderer, node positions). */
export const analysisSceneRegistry: {
  canvas: HTMLCanvasElement | null;
  nodeWorldPosition: ((nodeId: string) => [number, number, number] | null) | null;
  panelLines: (() => string[]) | null;
  labelTexts: (() => string[]) | null;
  circuitDrawn: (() => { nodeIds: string[]; links: number; visible: boolean }) | null;
  /** Arcs the attention view draws over the rail: the query position and each key's weight. */
  attentionArcs: (() => { query: number; keys: { key: number; weight: number }[] } | null) | null;
  projectHead: ((layer: number, head: number) => { x: number; y: number } | null) | null;
} = { canvas: null, nodeWorldPosition: null, panelLines: null, labelTexts: null, circuitDrawn: null, attentionArcs: null, projectHead: null };

const byServices = new WeakMap<AppServices, AnalysisServices>();

export function analysisServicesFor(services: AppServices): AnalysisServices {
  let analysis = byServices.get(services);
  if (!analysis) {
    const store = createAnalysisStore();
    const requests = createAnalysisRequests(store, services.connection, (prompt) => services.connection.runPrompt(prompt));
    setupCircuitHighlight(store, services.app);
    setupNeuronNotes(store, services.app, services.connection.backend);
    analysis = { store, requests };
    byServices.set(services, analysis);
    if (typeof window !== 'undefined') {
      window.__circuitsAnalysis = {
        store,
        nodeWorldPosition: (id) => analysisSceneRegistry.nodeWorldPosition?.(id) ?? null,
        snapshot: () => analysisSceneRegistry.canvas?.toDataURL('image/png') ?? null,
        panelLines: () => analysisSceneRegistry.panelLines?.() ?? [],
        labelTexts: () => analysisSceneRegistry.labelTexts?.() ?? [],
        circuitDrawn: () => analysisSceneRegistry.circuitDrawn?.() ?? null,
        attentionArcs: () => analysisSceneRegistry.attentionArcs?.() ?? null,
        projectHead: (layer, head) => analysisSceneRegistry.projectHead?.(layer, head) ?? null,
      };
    }
  }
  return analysis;
}

export function useAnalysis(): AnalysisServices {
  return analysisServicesFor(useAppServices());
}
