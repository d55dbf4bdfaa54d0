/** The activation colour legend, drawn from the same scale as the shader. */
import { useEffect, useRef } from 'react';
import { useAppServices } from '../state/app-context.js';
import { useAppStore } from '../state/app-store.js';
import { colourAt } from '../scene/colour-scale.js';

export function Legend() {
  const { app, activations } = useAppServices();
  useAppStore(app, (state) => state.historyVersion);
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
  const range = activations.maxAbs > 1e-5 ? activations.maxAbs : 1;
  return (
    <div className="panel legend" data-testid="legend">
      <div className="legend-title">MLP activation (√ scale)</div>
      <canvas ref={canvas} width={200} height={12} />
      <div className="legend-labels">
        <span>−{range.toFixed(2)}</span>
        <span>0</span>
        <span>+{range.toFixed(2)}</span>
      </div>
    </div>
  );
}
