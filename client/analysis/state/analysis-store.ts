/**
 * The analysis views' discrete state (zustand, createStore): the question (prompt, target,
 * distractor) and how target/distractor tokenize, the effects on Δ, the attribution graph with
 * its live pruning, and the circuit highlight. One store per app (see `analysisStoreFor`), read
 * by the HTML panels and the scene alike, so desktop and VR show the same state.
 * Nothing here changes per frame: scene components subscribe and rebuild buffers on change.
 */
import { createStore } from 'zustand/vanilla';
import { useStore } from 'zustand';
import type { EffectsResult, TokenInfo } from '../../../shared/protocol.js';
import type { AttributionGraph } from '../../../shared/graph/schema.js';
import type { GraphIndex } from '../../../shared/graph/io.js';
import type { PruneResult } from '../../../shared/graph/prune.js';

export type TokenEffectMeasure = 'gradXInput' | 'occlusion';
export type NeuronEffectMeasure = 'direct' | 'total';
export type JobStatus = 'idle' | 'running' | 'done' | 'error' | 'cancelled';

/** How target or distractor tokenizes after the prompt; the first token is the one used. */
export interface TokenSplit {
  text: string;
  tokens: TokenInfo[];
}

/** Effects with the per-neuron arrays viewed as Float32Array ([L * N]). */
export interface Effects extends Omit<EffectsResult, 'neuronDirect' | 'neuronTotal'> {
  neuronDirect: Float32Array;
  neuronTotal: Float32Array;
}

/** Where the graph came from: traced by the server for this model, or imported from a file. */
export type GraphSource = { kind: 'traced' } | { kind: 'imported'; fileName: string };

export interface CircuitHighlight {
  /** Node ids the highlight goes through (selected/grabbed neuron or token, focused node). */
  focusIds: string[];
  /** Per kept link (index into prune.keptLinks): 1 when on a path through a focus node. */
  linkMask: Uint8Array;
  /** Kept links on a path through a focus node (0 when nothing is focused). */
  count: number;
}

export interface AnalysisState {
  prompt: string;
  target: string;
  distractor: string;
  targetSplit: TokenSplit | null;
  distractorSplit: TokenSplit | null;
  effectsStatus: JobStatus;
  effects: Effects | null;
  tokenMeasure: TokenEffectMeasure;
  neuronMeasure: NeuronEffectMeasure;
  /** Layer filter for the neuron space (null = all layers). */
  layerFilter: number | null;
  graphStatus: JobStatus;
  graphRunId: string | null;
  /** The running Explain's id, from its first progress event (for Cancel). */
  effectsRunId: string | null;
  /** Progress of the running Explain or Trace (a client runs one analysis at a time). */
  progress: { done: number; total: number } | null;
  maxNodes: number;
  /** What the next trace is over: MLP neurons, or the server's transcoder features (when it has them). */
  traceOver: 'neurons' | 'features';
  graph: AttributionGraph | null;
  graphIndex: GraphIndex | null;
  graphSource: GraphSource | null;
  nodeThreshold: number;
  edgeThreshold: number;
  pinnedIds: string[];
  /** Most feature/error nodes shown (pinned first, then by influence): the readable default is small. */
  nodeBudget: number;
  /** Named groups of nodes drawn as one (Neuronpedia's qParams.supernodes: [label, ...ids]). */
  supernodes: string[][];
  prune: PruneResult | null;
  /** A graph is being parsed or pruned off the main thread (the worker answers asynchronously). */
  pruning: boolean;
  /** The node under the pointer in the 2D view (the 3D scene labels it too). */
  hoverNodeId: string | null;
  /** A trace over this many nodes waits for the user's confirmation (null: none waiting). */
  traceConfirm: number | null;
  /** The attention head whose pattern is shown (grid panel and arcs over the rail). */
  selectedHead: { layer: number; head: number } | null;
  /** What a shown neuron does, in a few words (imported explanation, else its top promoted tokens), by `layer/index`. */
  neuronNotes: Record<string, string>;
  /** A node focused from the circuit list (for nodes that are not neurons of the model). */
  focusNodeId: string | null;
  highlight: CircuitHighlight;
  showPaths: boolean;
  warnings: string[];
  error: string | null;
}

export const initialAnalysisState: AnalysisState = {
  prompt: ' the apple fell from the',
  target: ' tree',
  distractor: ' sky',
  targetSplit: null,
  distractorSplit: null,
  effectsStatus: 'idle',
  effects: null,
  tokenMeasure: 'gradXInput',
  neuronMeasure: 'direct',
  layerFilter: null,
  graphStatus: 'idle',
  graphRunId: null,
  effectsRunId: null,
  progress: null,
  maxNodes: 200,
  traceOver: 'neurons',
  graph: null,
  graphIndex: null,
  graphSource: null,
  nodeThreshold: 0.8,
  edgeThreshold: 0.98,
  pinnedIds: [],
  nodeBudget: 30,
  supernodes: [],
  prune: null,
  pruning: false,
  hoverNodeId: null,
  traceConfirm: null,
  selectedHead: null,
  neuronNotes: {},
  focusNodeId: null,
  highlight: { focusIds: [], linkMask: new Uint8Array(0), count: 0 },
  showPaths: true,
  warnings: [],
  error: null,
};

export type AnalysisStore = ReturnType<typeof createAnalysisStore>;

export function createAnalysisStore() {
  return createStore<AnalysisState>()(() => ({ ...initialAnalysisState }));
}

export function useAnalysisStore<T>(store: AnalysisStore, selector: (state: AnalysisState) => T): T {
  return useStore(store, selector);
}
