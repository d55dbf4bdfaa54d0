/**
 * The key to every visual encoding: the MLP colour scale (drawn from the same scale as the
 * shader, with this run's range), heads, rail (prompt vs generated, current), the effect strip,
 * the rings of the neuron space, the circuit's path and node colours. Folds away (ui-prefs).
 */
import { useEffect, useRef } from 'react';
import { useAppServices } from '../state/app-context.js';
import { useAppStore } from '../state/app-store.js';
import { activationCss, colourAt } from '../scene/colour-scale.js';
import { DockSection } from './dock-section.js';

function ScaleBar() {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const context = canvas.current?.getContext('2d');
    if (!context) return;
    const { width, height } = context.canvas;
    const rgb: [number, number, number] = [0, 0, 0];
    for (let x = 0; x < width; x++) {
      colourAt((x / (width - 1)) * 2 - 1, rgb);
      context.fillStyle = `rgb(${rgb.map((c) => Math.round(c * 255)).join(',')})`;
      context.fillRect(x, 0, 1, height);
    }
  }, []);
  return <canvas ref={canvas} width={200} height={12} />;
}

export function Legend() {
  const { app, activations } = useAppServices();
  useAppStore(app, (state) => state.historyVersion);
  const range = activations.maxAbs > 1e-5 ? activations.maxAbs : 1;
  const up = activationCss(1, 1);
  const down = activationCss(-1, 1);
  return (
    <DockSection name="legend" title="Legend" testId="legend" defaultCollapsed>
      <div className="legend-title">Neurons: MLP activation (√ scale)</div>
      <ScaleBar />
      <div className="legend-labels">
        <span>−{range.toFixed(2)}</span>
        <span>0</span>
        <span>+{range.toFixed(2)}</span>
      </div>
      <dl className="legend-list">
        <dt><span className="legend-dot" style={{ background: activationCss(0.9, 1) }} /></dt>
        <dd>Heads: brightness = focus (the largest attention weight at the chosen token).</dd>
        <dt><span className="legend-chip">tok</span><span className="legend-chip generated">gen</span></dt>
        <dd>Rail: prompt tokens grey, generated blue, the chosen one orange.</dd>
        <dt><span className="legend-strip" style={{ background: `linear-gradient(90deg, ${down}, #222 50%, ${up})` }} /></dt>
        <dd>Effect strip over the rail (after Explain): each token's effect on Δ, orange raises the target.</dd>
        <dt><span className="legend-ring" style={{ borderColor: up }} /><span className="legend-ring" style={{ borderColor: down }} /></dt>
        <dd>Rings (after Explain): neurons that raise Δ (orange) or lower it (blue); bigger = stronger.</dd>
        <dt><span className="legend-line" style={{ background: up }} /><span className="legend-line" style={{ background: down }} /></dt>
        <dd>Circuit paths: positive (orange) or negative (blue) influence, brighter = larger |weight|; nodes brighter = more influence.</dd>
        <dt><span className="legend-dot white" /></dt>
        <dd>White rim: the selected neuron.</dd>
      </dl>
    </DockSection>
  );
}
