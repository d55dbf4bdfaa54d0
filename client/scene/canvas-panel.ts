/**
 * Text drawn on a canvas and shown on a plane: token labels, the prediction board and the XR
 * selection panel. Redrawing is explicit (`draw` then the texture uploads once); the drawn lines
 * are kept so tests and tools can read what a panel shows.
 */
import { CanvasTexture, SRGBColorSpace } from 'three';

export interface CanvasPanel {
  readonly canvas: HTMLCanvasElement;
  readonly texture: CanvasTexture;
  /** The text lines last drawn, for reading back. */
  lines: string[];
  draw(paint: (context: CanvasRenderingContext2D, width: number, height: number) => void, lines: string[]): void;
  dispose(): void;
}

export function createCanvasPanel(width: number, height: number): CanvasPanel {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const texture = new CanvasTexture(canvas);
  texture.colorSpace = SRGBColorSpace;
  texture.anisotropy = 4;
  const panel: CanvasPanel = {
    canvas,
    texture,
    lines: [],
    draw(paint, lines) {
      const context = canvas.getContext('2d');
      if (!context) return;
      context.clearRect(0, 0, width, height);
      paint(context, width, height);
      panel.lines = lines;
      texture.needsUpdate = true;
    },
    dispose() {
      texture.dispose();
    },
  };
  return panel;
}

export function fillPanelBackground(context: CanvasRenderingContext2D, width: number, height: number, border = '#3a4050'): void {
  context.fillStyle = 'rgba(14, 16, 22, 0.92)';
  context.fillRect(0, 0, width, height);
  context.strokeStyle = border;
  context.lineWidth = 6;
  context.strokeRect(3, 3, width - 6, height - 6);
}
