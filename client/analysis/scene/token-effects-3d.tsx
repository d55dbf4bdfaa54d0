/**
 * Token effects on the rail: a strip just above the token rail with one cell per prompt token,
 * aligned with the rail's blocks, coloured by the token's effect on Δ (shared diverging scale)
 * and labelled with its value; the strip's left end says which measure is shown. One plane,
 * one canvas texture, redrawn when the effects or the measure change — never per frame.
 */
import { useEffect, useMemo } from 'react';
import { DoubleSide } from 'three';
import { createCanvasPanel, fillPanelBackground } from '../../scene/canvas-panel.js';
import { activationCss } from '../../scene/colour-scale.js';
import { tokenPosition, type SceneLayout } from '../../scene/layout.js';
import { useAnalysis } from '../state/analysis-services.js';
import { useAnalysisStore, type TokenEffectMeasure } from '../state/analysis-store.js';

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

export function TokenEffects3D({ layout }: { layout: SceneLayout }) {
  const { store } = useAnalysis();
  const effects = useAnalysisStore(store, (s) => s.effects);
  const measure = useAnalysisStore(store, (s) => s.tokenMeasure);
  const count = effects?.tokens.length ?? 0;
  const cells = count + labelCells;
  const canvasWidth = Math.min(maxCanvasWidth, cells * cellPixels);
  const panel = useMemo(() => createCanvasPanel(canvasWidth, 96), [canvasWidth]);
  useEffect(() => () => panel.dispose(), [panel]);

  useEffect(() => {
    if (!effects) return;
    const values = effects.tokenEffects.map((t) => tokenEffectValue(t, measure));
    const range = Math.max(1e-9, ...values.map(Math.abs));
    const lines = [`Token effect on Δ (${measureName(measure)})`, ...values.map((v, p) => `${p}: ${v.toFixed(3)}`)];
    panel.draw((context, width, height) => {
      const cell = width / cells;
      fillPanelBackground(context, labelCells * cell, height);
      context.fillStyle = '#e8ebf2';
      context.font = '600 26px system-ui, sans-serif';
      context.textBaseline = 'middle';
      context.fillText('Effect on Δ', 14, height * 0.32, labelCells * cell - 20);
      context.font = '24px system-ui, sans-serif';
      context.fillText(measureName(measure), 14, height * 0.7, labelCells * cell - 20);
      context.textAlign = 'center';
      values.forEach((value, p) => {
        const x = (p + labelCells) * cell;
        context.fillStyle = activationCss(value, range);
        context.fillRect(x + 4, 4, cell - 8, height - 8);
        context.fillStyle = Math.abs(value) / range > 0.5 ? '#0b0d13' : '#f0f2f6';
        context.font = '600 34px system-ui, sans-serif';
        context.fillText(`${value >= 0 ? '+' : ''}${value.toFixed(2)}`, x + cell / 2, height / 2, cell - 14);
      });
    }, lines);
  }, [panel, effects, measure, cells]);

  if (!effects || count === 0) return null;
  const first = tokenPosition(layout, 0, count).x;
  const width = cells * layout.tokenSpacing;
  const centreX = first - labelCells * layout.tokenSpacing + width / 2 - layout.tokenSpacing / 2;
  return (
    <mesh name="token-effects" position={[centreX, layout.railY + 0.13, layout.railZ]} raycast={() => {}}>
      <planeGeometry args={[width, 0.12]} />
      <meshBasicMaterial map={panel.texture} side={DoubleSide} transparent />
    </mesh>
  );
}
