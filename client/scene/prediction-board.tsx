/**
 * The prediction board at the far end: the top next-token predictions with probabilities. It is
 * 10–25 m from the entrance, so it is scaled with that distance (readable-size.ts) for its
 * smallest text to read from there, its lower edge kept above the floor.
 */
import { useEffect, useMemo } from 'react';
import { useAppServices } from '../state/app-context.js';
import { useAppStore } from '../state/app-store.js';
import { createCanvasPanel, fillPanelBackground } from './canvas-panel.js';
import type { SceneLayout } from './layout.js';
import { entranceScale } from './readable-size.js';

const boardSize = 2.2;
const boardCanvas = 512;
const smallestFontPx = 28;

/** Where the board hangs and its scale (also used to place the circuit panel beside it). */
export function boardPlacement(layout: SceneLayout): { position: [number, number, number]; scale: number; size: number } {
  const scale = entranceScale((smallestFontPx * boardSize) / boardCanvas, 0, layout.centreY, layout.boardZ);
  const y = Math.max(layout.centreY, (boardSize * scale) / 2 + 0.1);
  return { position: [0, y, layout.boardZ], scale, size: boardSize * scale };
}
import { displayToken } from './token-rail.js';

export function PredictionBoard({ layout }: { layout: SceneLayout }) {
  const { app } = useAppServices();
  const predictions = useAppStore(app, (state) => state.predictions);
  const panel = useMemo(() => createCanvasPanel(boardCanvas, boardCanvas), []);
  useEffect(() => {
    const shown = predictions.slice(0, 10);
    panel.draw((context, width, height) => {
      fillPanelBackground(context, width, height);
      context.fillStyle = '#f0f2f6';
      context.font = '600 34px system-ui, sans-serif';
      context.fillText('Next token', 24, 52);
      context.font = `${smallestFontPx}px system-ui, sans-serif`;
      shown.forEach((prediction, i) => {
        const y = 100 + i * 40;
        context.fillStyle = 'rgba(255, 140, 26, 0.55)';
        context.fillRect(200, y - 24, Math.max(2, prediction.prob * (width - 230)), 30);
        context.fillStyle = '#e8ebf2';
        context.fillText(displayToken(prediction.text).slice(0, 12), 24, y);
        context.fillText(`${(prediction.prob * 100).toFixed(1)}%`, 210, y);
      });
    }, shown.map((p) => `${p.text} ${p.prob}`));
  }, [panel, predictions]);
  useEffect(() => () => panel.dispose(), [panel]);
  const placement = boardPlacement(layout);
  return (
    <mesh name="prediction-board" position={placement.position} scale={placement.scale}>
      <planeGeometry args={[boardSize, boardSize]} />
      <meshBasicMaterial map={panel.texture} transparent />
    </mesh>
  );
}
