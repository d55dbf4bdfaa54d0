/**
 * Paints the in-scene neuron explanation panel on its canvas: id, explanation, statistics,
 * the activation histogram (log count, coloured like the clouds), the first top examples as rows of highlighted tokens (focus outlined, kept in view), and the
 * promoted / suppressed tokens. Called on store changes only, never per frame.
 * Canvas units: pixels of a 1024 × 896 canvas.
 */
import type { NeuronExample } from '../../../shared/neuron-index.js';
import { fillPanelBackground, type CanvasPanel } from '../../scene/canvas-panel.js';
import { activationCss } from '../../scene/colour-scale.js';
import { displayToken } from '../../scene/token-rail.js';
import { exampleTokenText, formatActivation, histogramBars, histogramX, indexFraction, indexStatusText, statEntries, tokenHighlight } from '../state/neuron-format.js';
import type { NeuronViewState } from '../state/neuron-store.js';
import { neuronPanelLines, panelExamples, panelLogitTokens } from './neuron-panel-lines.js';

export const panelWidth = 1024;
export const panelHeight = 896;
const margin = 28;
const text = '#eef0f5';
const muted = '#9aa3b5';

/** Draws `line` cut to `maxLines` lines of at most `width`, returning the y after it. */
function wrapped(context: CanvasRenderingContext2D, line: string, x: number, y: number, width: number, lineHeight: number, maxLines: number): number {
  const words = line.split(/(\s+)/);
  let current = '';
  let drawn = 0;
  for (let i = 0; i < words.length; i++) {
    const next = current + words[i];
    if (context.measureText(next).width > width && current.trim().length > 0) {
      if (drawn === maxLines - 1) {
        context.fillText(`${current.trimEnd()}…`, x, y, width);
        return y + lineHeight;
      }
      context.fillText(current.trimEnd(), x, y, width);
      y += lineHeight;
      drawn++;
      current = words[i]!.trimStart();
    } else {
      current = next;
    }
  }
  if (current.length > 0) {
    context.fillText(current, x, y, width);
    y += lineHeight;
  }
  return y;
}

/** One example as token boxes between x0 and x1, the focus token's left edge at 42% of it. */
function exampleRow(context: CanvasRenderingContext2D, example: NeuronExample, max: number, x0: number, x1: number, y: number, height: number): void {
  const widths = example.tokens.map((token) => context.measureText(exampleTokenText(token.text)).width + 4);
  const xs: number[] = new Array(widths.length);
  const anchor = x0 + (x1 - x0) * 0.42;
  xs[example.focus] = anchor;
  for (let i = example.focus - 1; i >= 0; i--) xs[i] = xs[i + 1]! - widths[i]!;
  for (let i = example.focus + 1; i < widths.length; i++) xs[i] = xs[i - 1]! + widths[i - 1]!;
  context.save();
  context.beginPath();
  context.rect(x0, y, x1 - x0, height);
  context.clip();
  example.tokens.forEach((token, i) => {
    const x = xs[i]!;
    if (x + widths[i]! < x0 || x > x1) return;
    const { background, color } = tokenHighlight(example.activations[i] ?? 0, max);
    if (background !== 'transparent') {
      context.fillStyle = background;
      context.fillRect(x, y + 3, widths[i]!, height - 6);
    }
    context.fillStyle = color;
    context.fillText(exampleTokenText(token.text), x + 2, y + height / 2);
    if (i === example.focus) {
      context.strokeStyle = '#ffffff';
      context.lineWidth = 3;
      context.strokeRect(x, y + 3, widths[i]!, height - 6);
    }
  });
  context.restore();
}

/** The histogram in a box at (x, y) of width × height, with its range and zero below. */
function histogram(context: CanvasRenderingContext2D, indexed: NonNullable<NonNullable<NeuronViewState['details']>['indexed']>, x: number, y: number, width: number, height: number): void {
  const { histogram: h } = indexed;
  const low = h.edges[0] ?? 0;
  const high = h.edges[h.edges.length - 1] ?? 0;
  const range = Math.max(Math.abs(low), Math.abs(high), 1e-6);
  const labels = 120; // room for the range at either end
  const barsWidth = width - 2 * labels;
  context.fillStyle = '#0b0d13';
  context.fillRect(x + labels, y, barsWidth, height);
  for (const bar of histogramBars(h, barsWidth, height - 4)) {
    context.fillStyle = activationCss(bar.centre, range);
    context.fillRect(x + labels + bar.x, y + height - bar.height, Math.max(1, bar.width - 0.5), bar.height);
  }
  const zero = histogramX(h, barsWidth, 0);
  if (zero !== null) {
    context.fillStyle = '#6a7080';
    context.fillRect(x + labels + zero - 1, y, 2, height);
  }
  context.font = '24px system-ui, sans-serif';
  context.fillStyle = muted;
  context.textAlign = 'right';
  context.fillText(formatActivation(low), x + labels - 10, y + height / 2);
  context.textAlign = 'left';
  context.fillText(formatActivation(high), x + width - labels + 10, y + height / 2);
}

function logitColumn(context: CanvasRenderingContext2D, title: string, effects: { token: { text: string }; value: number }[], range: number, x: number, y: number, width: number): void {
  context.fillStyle = muted;
  context.font = '600 24px system-ui, sans-serif';
  context.fillText(title, x, y);
  context.font = '30px system-ui, sans-serif';
  effects.slice(0, panelLogitTokens).forEach((effect, i) => {
    const rowY = y + 18 + i * 38;
    context.fillStyle = activationCss(effect.value, range);
    context.globalAlpha = 0.35;
    context.fillRect(x, rowY, (Math.abs(effect.value) / range) * width, 32);
    context.globalAlpha = 1;
    context.fillStyle = text;
    context.textAlign = 'left';
    context.fillText(displayToken(effect.token.text), x + 6, rowY + 16, width - 110);
    context.fillStyle = muted;
    context.textAlign = 'right';
    context.fillText(formatActivation(effect.value), x + width - 4, rowY + 16);
    context.textAlign = 'left';
  });
}

export function drawNeuronPanel(panel: CanvasPanel, state: NeuronViewState): void {
  const lines = neuronPanelLines(state);
  panel.draw((context, width, height) => {
    fillPanelBackground(context, width, height, state.neuron ? '#ff8c1a' : '#3a4050');
    context.textBaseline = 'middle';
    context.fillStyle = text;
    context.font = '600 38px system-ui, sans-serif';
    context.fillText(lines[0]!, margin, 52, width - 2 * margin);
    const { details } = state;
    let y = 104;
    if (!details) {
      context.font = '30px system-ui, sans-serif';
      context.fillStyle = state.status === 'error' ? '#ff8a80' : muted;
      for (const line of lines.slice(1)) y = wrapped(context, line, margin, y, width - 2 * margin, 40, 3);
      return;
    }
    context.font = 'italic 30px system-ui, sans-serif';
    context.fillStyle = details.explanation ? text : muted;
    y = wrapped(context, lines[1]!, margin, y, width - 2 * margin, 38, 2) + 8;

    const indexed = details.indexed;
    if (indexed) {
      const entries = statEntries(indexed.stats);
      const boxWidth = (width - 2 * margin - 4 * 12) / entries.length;
      entries.forEach((entry, i) => {
        const x = margin + i * (boxWidth + 12);
        context.fillStyle = '#0b0d13';
        context.fillRect(x, y - 6, boxWidth, 76);
        context.fillStyle = muted;
        context.font = '600 24px system-ui, sans-serif'; // the smallest text: ≥ 1° in VR (panel-placement.ts)
        context.fillText(entry.label.toUpperCase(), x + 12, y + 14, boxWidth - 20);
        context.fillStyle = text;
        context.font = '600 32px system-ui, sans-serif';
        context.fillText(entry.text, x + 12, y + 46, boxWidth - 20);
      });
      y += 84;
      histogram(context, indexed, margin, y, width - 2 * margin, 44);
      y += 70;
      context.fillStyle = muted;
      context.font = '600 24px system-ui, sans-serif';
      context.fillText('Top activating examples', margin, y);
      y += 18;
      const max = Math.max(indexed.stats.max, indexed.topExamples[0]?.value ?? 0, 1e-6);
      for (const example of indexed.topExamples.slice(0, panelExamples)) {
        context.font = '28px system-ui, sans-serif';
        context.fillStyle = muted;
        context.textAlign = 'right';
        context.fillText(formatActivation(example.value), margin + 84, y + 26);
        context.textAlign = 'left';
        context.font = '30px system-ui, sans-serif';
        exampleRow(context, example, max, margin + 100, width - margin, y, 50);
        y += 52;
      }
      y += 30;
    } else {
      context.font = '28px system-ui, sans-serif';
      context.fillStyle = muted;
      const status = state.index;
      y = wrapped(context, status ? indexStatusText(status) : 'Corpus index: status unknown', margin, y + 10, width - 2 * margin, 36, 2);
      if (status?.state === 'building') {
        context.fillStyle = '#0b0d13';
        context.fillRect(margin, y, width - 2 * margin, 16);
        context.fillStyle = '#ff8c1a';
        context.fillRect(margin, y, (width - 2 * margin) * indexFraction(status), 16);
        y += 30;
      }
      y += 24;
    }
    const range = Math.max(1e-9, ...[...details.promoted, ...details.suppressed].map((e) => Math.abs(e.value)));
    const columnWidth = (width - 2 * margin - 24) / 2;
    logitColumn(context, 'Promotes', details.promoted, range, margin, y, columnWidth);
    logitColumn(context, 'Suppresses', details.suppressed, range, margin + columnWidth + 24, y, columnWidth);
  }, lines);
}
