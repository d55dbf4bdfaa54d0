/**
 * Token effects on the rail: a strip just above the token rail with one cell per prompt token,
 * aligned with the rail's blocks, coloured by the token's effect on Δ (shared diverging scale)
 * and labelled with its value; the strip's left end says which measure is shown. While an
 * imported graph is shown, the strip shows that graph's prompt tokens instead, where its
 * embedding nodes sit (another prompt than the rail's). One plane, one canvas texture, redrawn
 * when its content changes — never per frame.
 */
import { useEffect, useMemo } from 'react';
import { DoubleSide } from 'three';
import { createCanvasPanel, fillPanelBackground } from '../../scene/canvas-panel.js';
import { activationCss } from '../../scene/colour-scale.js';
import { tokenPosition, type SceneLayout } from '../../scene/layout.js';
import { displayToken } from '../../scene/token-rail.js';
import { useAnalysis } from '../state/analysis-services.js';
import { useAnalysisStore, type AnalysisState, type TokenEffectMeasure } from '../state/analysis-store.js';

/** Cells of the strip left of the first token, for the measure's name. */
const labelCells = 2;
const cellPixels = 160;
const maxCanvasWidth = 4096;

export function tokenEffectValue(effect: { gradXInput: number; occlusion: number }, measure: TokenEffectMeasure): number {
  return measure === 'gradXInput' ? effect.gradXInput : effect.occlusion;
}

export function measureName(measure: TokenEffectMeasure): string {
  return measure === 'gradXInput' ? 'gradient × input' : 'occlusion';
}

interface Strip {
  title: string;
  subtitle: string;
  cells: { text: string; value: number | null }[];
  /** Tokens the positions are laid out for (the rail's or the imported graph's). */
  count: number;
}

function stripOf(state: Pick<AnalysisState, 'effects' | 'tokenMeasure' | 'graph' | 'graphSource'>): Strip | null {
  const { effects, tokenMeasure, graph, graphSource } = state;
  if (graph && graphSource?.kind === 'imported') {
    let maxCtx = 0;
    for (const node of graph.nodes) maxCtx = Math.max(maxCtx, node.ctx_idx);
    const count = Math.max(graph.metadata.prompt_tokens.length, maxCtx + 1);
    const cells = Array.from({ length: count }, (_, p) => ({ text: displayToken(graph.metadata.prompt_tokens[p] ?? `${p}`), value: null }));
    return { title: 'Imported graph', subtitle: graph.metadata.scan || graphSource.fileName, cells, count };
  }
  if (!effects) return null;
  const cells = effects.tokenEffects.map((t) => ({ text: '', value: tokenEffectValue(t, tokenMeasure) }));
  return { title: 'Effect on Δ', subtitle: measureName(tokenMeasure), cells, count: effects.tokens.length };
}

export function TokenEffects3D({ layout }: { layout: SceneLayout }) {
  const { store } = useAnalysis();
  const effects = useAnalysisStore(store, (s) => s.effects);
  const tokenMeasure = useAnalysisStore(store, (s) => s.tokenMeasure);
  const graph = useAnalysisStore(store, (s) => s.graph);
  const graphSource = useAnalysisStore(store, (s) => s.graphSource);
  const strip = useMemo(() => stripOf({ effects, tokenMeasure, graph, graphSource }), [effects, tokenMeasure, graph, graphSource]);
  const cells = (strip?.count ?? 0) + labelCells;
  const canvasWidth = Math.min(maxCanvasWidth, cells * cellPixels);
  const panel = useMemo(() => createCanvasPanel(canvasWidth, 96), [canvasWidth]);
  useEffect(() => () => panel.dispose(), [panel]);

  useEffect(() => {
    if (!strip) return;
    const range = Math.max(1e-9, ...strip.cells.map((c) => Math.abs(c.value ?? 0)));
    const lines = [`${strip.title} (${strip.subtitle})`, ...strip.cells.map((c, p) => `${p}: ${c.value === null ? c.text : c.value.toFixed(3)}`)];
    panel.draw((context, width, height) => {
      const cell = width / cells;
      fillPanelBackground(context, labelCells * cell, height);
      context.fillStyle = '#e8ebf2';
      context.font = '600 26px system-ui, sans-serif';
      context.textBaseline = 'middle';
      context.fillText(strip.title, 14, height * 0.32, labelCells * cell - 20);
      context.font = '24px system-ui, sans-serif';
      context.fillText(strip.subtitle, 14, height * 0.7, labelCells * cell - 20);
      context.textAlign = 'center';
      strip.cells.forEach((c, p) => {
        const x = (p + labelCells) * cell;
        context.fillStyle = c.value === null ? '#4a5266' : activationCss(c.value, range);
        context.fillRect(x + 4, 4, cell - 8, height - 8);
        context.fillStyle = c.value !== null && Math.abs(c.value) / range > 0.5 ? '#0b0d13' : '#f0f2f6';
        context.font = '600 34px system-ui, sans-serif';
        const text = c.value === null ? c.text : `${c.value >= 0 ? '+' : ''}${c.value.toFixed(2)}`;
        context.fillText(text, x + cell / 2, height / 2, cell - 14);
      });
    }, lines);
  }, [panel, strip, cells]);

  if (!strip || strip.count === 0) return null;
  const first = tokenPosition(layout, 0, strip.count).x;
  const width = cells * layout.tokenSpacing;
  const centreX = first - labelCells * layout.tokenSpacing + width / 2 - layout.tokenSpacing / 2;
  return (
    <mesh name="token-effects" position={[centreX, layout.railY + 0.13, layout.railZ]} raycast={() => {}}>
      <planeGeometry args={[width, 0.12]} />
      <meshBasicMaterial map={panel.texture} side={DoubleSide} transparent />
    </mesh>
  );
}
