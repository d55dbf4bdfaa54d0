/**
 * The analysis views in the 3D scene (desktop and XR alike): token effects over the rail, the
 * neuron-space highlight overlay, and the circuit's paths and nodes. Buffers follow the
 * analysis store through subscriptions (discrete changes), never React re-renders per item;
 * the frame loop only passes the viewport height to the point shaders.
 */
import { useFrame, useThree } from '@react-three/fiber';
import { useEffect, useMemo, useRef } from 'react';
import { Vector2, Vector3 } from 'three';
import { useAppServices } from '../../state/app-context.js';
import type { SceneLayout } from '../../scene/layout.js';
import { analysisSceneRegistry, useAnalysis } from '../state/analysis-services.js';
import { useAnalysisStore, type AnalysisState } from '../state/analysis-store.js';
import { rankComponents } from '../state/neuron-ranking.js';
import { CircuitPanel3D } from './circuit-panel-3d.js';
import { createCircuitPaths } from './circuit-paths.js';
import { createCircuitLabels, type LabelSpec } from './circuit-labels-3d.js';
import { buildView, type ViewModel } from '../state/circuit-view.js';
import { graphIndex } from '../../../shared/graph/io.js';
import { defaultQueryParams, type AttributionGraph } from '../../../shared/graph/schema.js';
import { placeCircuit } from './circuit-placement.js';
import { useAppStore } from '../../state/app-store.js';
import { featureViewFor, useFeatureView } from '../../state/feature-view.js';
import { createFeatureLayout } from '../../scene/feature-layout.js';
import { createNeuronHighlights } from './neuron-highlights.js';
import { TokenEffects3D } from './token-effects-3d.js';

/** Highlighted units per side (raising, lowering). */
const highlightsPerSide = 16;

function NeuronSpace3D({ layout }: { layout: SceneLayout }) {
  const { store } = useAnalysis();
  const highlights = useMemo(() => createNeuronHighlights(layout, highlightsPerSide * 2), [layout]);
  useEffect(() => () => highlights.dispose(), [highlights]);
  useEffect(() => {
    const update = (state: AnalysisState, previous?: AnalysisState) => {
      if (previous && state.effects === previous.effects && state.neuronMeasure === previous.neuronMeasure && state.layerFilter === previous.layerFilter && state.graphSource === previous.graphSource) return;
      // An imported graph answers another question: its effects' highlights would mislead.
      if (!state.effects || state.graphSource?.kind === 'imported') return highlights.update([], 1);
      const ranking = rankComponents(state.effects, layout.nLayers, state.neuronMeasure, state.layerFilter, highlightsPerSide);
      highlights.update([...ranking.raising, ...ranking.lowering], ranking.maxAbs);
    };
    update(store.getState());
    return store.subscribe(update);
  }, [store, highlights, layout]);
  const size = useRef(new Vector2());
  const gl = useThree((s) => s.gl);
  useFrame(() => highlights.setViewportHeight(gl.getDrawingBufferSize(size.current).y));
  return <primitive object={highlights.points} />;
}

function Circuit3D({ layout }: { layout: SceneLayout }) {
  const { store } = useAnalysis();
  const graph = useAnalysisStore(store, (s) => s.graph);
  const index = useAnalysisStore(store, (s) => s.graphIndex);
  // A graph over the loaded transcoders' features draws them in the feature clouds when shown.
  const services = useAppServices();
  const transcoders = useAppStore(services.app, (s) => s.model?.transcoders ?? null);
  const featureMode = useFeatureView(featureViewFor(services), (s) => s.cloud);
  const ownFeatures = graph != null && transcoders != null && graph.metadata.info?.transcoder_set === transcoders.source;
  const features = useMemo(
    () => (ownFeatures ? createFeatureLayout(layout, Math.max(...transcoders!.featuresPerLayer), featureMode) : null),
    [ownFeatures, transcoders, featureMode, layout],
  );
  const built = useMemo(() => {
    if (!graph || !index) return null;
    const placement = placeCircuit(graph, layout, features);
    return { placement, paths: createCircuitPaths(graph, index, placement.positions), labels: createCircuitLabels() };
  }, [graph, index, layout, features]);
  useEffect(() => () => {
    built?.paths.dispose();
    built?.labels.dispose();
  }, [built]);
  useEffect(() => {
    if (!built || !graph || !index) {
      analysisSceneRegistry.nodeWorldPosition = null;
      analysisSceneRegistry.labelTexts = null;
      analysisSceneRegistry.circuitDrawn = null;
      return;
    }
    const { positions } = built.placement;
    analysisSceneRegistry.nodeWorldPosition = (id) => {
      const i = index.indexOf.get(id);
      return i === undefined ? null : [positions[i * 3]!, positions[i * 3 + 1]!, positions[i * 3 + 2]!];
    };
    analysisSceneRegistry.labelTexts = () => built.labels.texts();
    analysisSceneRegistry.circuitDrawn = () => built.paths.drawn();
    let view: ViewModel | null = null;
    const update = (state: AnalysisState, previous?: AnalysisState) => {
      // A newer graph's prune indexes other buffers: its own Circuit3D build takes over.
      if (state.graphIndex !== index) return;
      const viewChanged = !previous || state.prune !== previous.prune || state.supernodes !== previous.supernodes;
      if (!viewChanged && state.highlight === previous.highlight && state.showPaths === previous.showPaths && state.hoverNodeId === previous.hoverNodeId && state.pinnedIds === previous.pinnedIds) return;
      if (viewChanged) view = state.prune ? buildView(graph, index, state.prune, state.supernodes) : null;
      built.paths.update(view, state.highlight, state.showPaths, state.hoverNodeId);
      // Tags: pinned nodes, supernodes and the hovered node (the same words as the 2D panel).
      const labels: LabelSpec[] = [];
      if (view && state.showPaths) {
        const pinned = new Set(state.pinnedIds);
        view.nodes.forEach((node, v) => {
          const hovered = node.id === state.hoverNodeId;
          if (!hovered && !pinned.has(node.id) && node.kind !== 'group') return;
          const centre = built.paths.centre(v);
          if (centre) labels.push({ key: node.id, text: node.kind === 'group' ? `${node.label} (${node.members.length})` : node.label, position: centre, strong: hovered });
        });
      }
      built.labels.update(labels);
    };
    update(store.getState());
    return store.subscribe(update);
  }, [store, built, graph, index]);
  const size = useRef(new Vector2());
  const gl = useThree((s) => s.gl);
  const eye = useRef(new Vector3());
  useFrame(({ camera }) => {
    if (!built) return;
    built.paths.setViewportHeight(gl.getDrawingBufferSize(size.current).y);
    // The headset's eye in XR (three copies its pose onto the camera), the camera otherwise.
    built.labels.fitTo((gl.xr.isPresenting ? gl.xr.getCamera() : camera).getWorldPosition(eye.current));
  });
  if (!built) return null;
  return (
    <group name="circuit">
      <primitive object={built.paths.lines} />
      <primitive object={built.paths.nodes} />
      <primitive object={built.labels.group} />
    </group>
  );
}

/**
 * Compiles the circuit's shaders when the scene starts, not when the first graph arrives: an
 * empty set of paths (nothing in its draw range) and one tag far below the floor are drawn from
 * the first frame. Compiling on arrival blocked the page for a second in software WebGL.
 */
function CircuitWarmup() {
  const warm = useMemo(() => {
    const graph: AttributionGraph = { metadata: { slug: '', scan: '', prompt: '', prompt_tokens: [] }, qParams: defaultQueryParams(), nodes: [], links: [] };
    const paths = createCircuitPaths(graph, graphIndex(graph), new Float32Array(0));
    const labels = createCircuitLabels();
    labels.update([{ key: 'warm-up', text: '·', position: [0, -100, 0], strong: false }]);
    return { paths, labels };
  }, []);
  useEffect(() => () => {
    warm.paths.dispose();
    warm.labels.dispose();
  }, [warm]);
  return (
    <group name="circuit-warmup">
      <primitive object={warm.paths.lines} />
      <primitive object={warm.paths.nodes} />
      <primitive object={warm.labels.group} />
    </group>
  );
}

export function AnalysisScene({ layout }: { layout: SceneLayout }) {
  useAppServices();
  const gl = useThree((s) => s.gl);
  useEffect(() => {
    analysisSceneRegistry.canvas = gl.domElement;
    return () => {
      if (analysisSceneRegistry.canvas === gl.domElement) analysisSceneRegistry.canvas = null;
    };
  }, [gl]);
  return (
    <group name="analysis">
      <TokenEffects3D layout={layout} />
      <NeuronSpace3D layout={layout} />
      <CircuitWarmup />
      <Circuit3D layout={layout} />
      <CircuitPanel3D layout={layout} />
    </group>
  );
}
