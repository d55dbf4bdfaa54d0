/**
 * Text drawn on a canvas and shown on a plane: token labels, the prediction board and the XR
 * selection panel. Redrawing is explicit (`draw` then the texture uploads once); the drawn lines
 * are kept so tests and tools can read what a panel shows, and the smallest font size any text
 * was drawn with is kept on the texture (`texture.userData.minFontPx`), so a test can work out
 * the visual angle of the smallest text from where the texture hangs in the scene.
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
      texture.userData.minFontPx = smallestTextWhile(context, () => paint(context, width, height));
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

/**
 * Runs `paint` and returns the smallest font size (CSS px of the canvas) any fillText or
 * strokeText call used meanwhile (Infinity when no text was drawn). The context's own methods
 * are wrapped for the call only.
 */
export function smallestTextWhile(context: CanvasRenderingContext2D, paint: () => void): number {
  let smallest = Infinity;
  const note = () => {
    const px = /(\d+(?:\.\d+)?)px/.exec(context.font);
    if (px) smallest = Math.min(smallest, Number(px[1]));
  };
  const { fillText, strokeText } = context;
  context.fillText = (...args: Parameters<CanvasRenderingContext2D['fillText']>) => {
    note();
    fillText.apply(context, args);
  };
  context.strokeText = (...args: Parameters<CanvasRenderingContext2D['strokeText']>) => {
    note();
    strokeText.apply(context, args);
  };
  try {
    paint();
  } finally {
    // Back to the prototype's methods.
    delete (context as { fillText?: unknown }).fillText;
    delete (context as { strokeText?: unknown }).strokeText;
  }
  return smallest;
}
