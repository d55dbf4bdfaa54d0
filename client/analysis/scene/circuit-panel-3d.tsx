/**
 * The question and circuit statistics as an in-scene panel beside the prediction board, for VR
 * (and the desktop view): Δ, kept nodes and edges, influence covered, per-layer counts and what
 * the highlight goes through. A canvas texture redrawn from store subscriptions, never per frame.
 * Like the board, scaled with its distance from the entrance so its smallest text reads from
 * there (readable-size.ts), and placed to the board's right.
 */
import { useEffect, useMemo } from 'react';
import { DoubleSide } from 'three';
import { nodeKind } from '../../../shared/graph/schema.js';
import { createCanvasPanel, fillPanelBackground } from '../../scene/canvas-panel.js';
import type { SceneLayout } from '../../scene/layout.js';
import { boardPlacement } from '../../scene/prediction-board.js';
import { entranceScale } from '../../scene/readable-size.js';
import { displayToken } from '../../scene/token-rail.js';
import { analysisSceneRegistry, useAnalysis } from '../state/analysis-services.js';
import type { AnalysisState } from '../state/analysis-store.js';
import { layerOrder } from '../state/circuit-view.js';

export function circuitPanelLines(state: AnalysisState): string[] {
  const lines: string[] = [];
  const { effects, graph, prune, highlight } = state;
  if (effects) {
    lines.push(`Δ = logit[${displayToken(effects.target.text)}] − logit[${displayToken(effects.distractor.text)}] = ${effects.logitDiff.toFixed(3)}`);
  }
  if (state.graphStatus === 'running') {
    lines.push(`Tracing… ${state.progress ? `${state.progress.done}/${state.progress.total}` : ''}`);
  }
  if (graph && prune) {
    lines.push(`Circuit: ${prune.keptNodeIds.length}/${graph.nodes.length} nodes, ${prune.keptLinks.length}/${state.graphIndex?.edgeSources.length ?? 0} edges`);
    lines.push(`Influence covered: nodes ${(prune.nodeCoverage * 100).toFixed(1)}%, edges ${(prune.edgeCoverage * 100).toFixed(1)}%`);
    const perLayer = new Map<string, number>();
    const byId = new Map(graph.nodes.map((n) => [n.node_id, n]));
    for (const id of prune.keptNodeIds) {
      const node = byId.get(id)!;
      const kind = nodeKind(node);
      const label = kind === 'embedding' ? 'emb' : kind === 'logit' ? 'logit' : `L${node.layer}`;
      perLayer.set(label, (perLayer.get(label) ?? 0) + 1);
    }
    lines.push([...perLayer.entries()].sort((a, b) => layerOrder(a[0]) - layerOrder(b[0])).map(([label, n]) => `${label}:${n}`).join('  '));
    lines.push(highlight.count > 0 ? `Highlighted: ${highlight.count} edges through ${highlight.focusIds.slice(0, 3).join(', ')}` : 'Grab a token or neuron to follow its paths');
  }
  return lines;
}

const planeWidth = 2.4;
const planeHeight = 0.94;
const canvasWidth = 1024;
const smallestFontPx = 30;

/**
 * Beside the board, to its right, scaled for the entrance: the bigger it is the farther out it
 * hangs, which asks for a little more scale; a few passes settle it (within 1.1° vs 1° asked).
 */
export function circuitPanelPlacement(layout: SceneLayout): { position: [number, number, number]; scale: number } {
  const board = boardPlacement(layout);
  const textMetres = (smallestFontPx * planeWidth) / canvasWidth;
  const at = (scale: number): [number, number, number] => [board.size / 2 + 0.3 + (planeWidth * scale) / 2, Math.max(layout.centreY + 0.4, (planeHeight * scale) / 2 + 0.1), layout.boardZ];
  let scale = 1;
  for (let pass = 0; pass < 4; pass++) scale = entranceScale(textMetres, ...at(scale));
  return { position: at(scale), scale };
}

export function CircuitPanel3D({ layout }: { layout: SceneLayout }) {
  const { store } = useAnalysis();
  const panel = useMemo(() => createCanvasPanel(canvasWidth, 400), []);
  useEffect(() => {
    analysisSceneRegistry.panelLines = () => panel.lines;
    return () => {
      analysisSceneRegistry.panelLines = null;
      panel.dispose();
    };
  }, [panel]);
  useEffect(() => {
    let shown = '';
    const redraw = (state: AnalysisState) => {
      const lines = circuitPanelLines(state);
      const key = lines.join('\n');
      if (key === shown) return;
      shown = key;
      panel.draw((context, width, height) => {
        fillPanelBackground(context, width, height);
        context.fillStyle = '#f0f2f6';
        context.font = '600 40px system-ui, sans-serif';
        context.fillText('Why the target?', 28, 58);
        context.font = `${smallestFontPx}px system-ui, sans-serif`;
        lines.forEach((line, i) => context.fillText(line, 28, 112 + i * 46, width - 56));
      }, lines);
    };
    redraw(store.getState());
    return store.subscribe(redraw);
  }, [store, panel]);
  const placement = circuitPanelPlacement(layout);
  return (
    <mesh name="circuit-panel-3d" position={placement.position} scale={placement.scale} raycast={() => {}}>
      <planeGeometry args={[planeWidth, planeHeight]} />
      <meshBasicMaterial map={panel.texture} side={DoubleSide} transparent />
    </mesh>
  );
}
