/**
 * The neuron view's formatting and colour rules, which the desktop and VR panels share: numbers
 * read the same everywhere, tokens are coloured on the clouds' scale relative to the neuron's
 * maximum, and histogram bars follow the bin edges with log-scaled heights.
 */
import { describe, expect, it } from 'vitest';
import type { IndexStatus } from '../../../shared/neuron-index.js';
import { activationCss } from '../../../client/scene/colour-scale.js';
import {
  formatActivation,
  formatCount,
  formatDuration,
  exampleTokenText,
  formatShare,
  histogramBars,
  histogramX,
  indexFraction,
  indexStatusText,
  statEntries,
  tokenHighlight,
} from '../../../client/neurons/state/neuron-format.js';

describe('numbers', () => {
  it('writes activations with about three significant digits', () => {
    expect(formatActivation(0.123456)).toBe('0.123');
    expect(formatActivation(-0.0004)).toBe('-0.000');
    expect(formatActivation(3.14159)).toBe('3.14');
    expect(formatActivation(-12.345)).toBe('-12.3');
    expect(formatActivation(123.4)).toBe('123');
    expect(formatActivation(Number.NaN)).toBe('—');
  });

  it('writes shares as percentages, tiny ones as <0.1%', () => {
    expect(formatShare(0)).toBe('0%');
    expect(formatShare(0.0004)).toBe('<0.1%');
    expect(formatShare(0.1234)).toBe('12.3%');
    expect(formatShare(1)).toBe('100%');
  });

  it('writes token counts with k and M', () => {
    expect(formatCount(950)).toBe('950');
    expect(formatCount(1234)).toBe('1.23k');
    expect(formatCount(20480)).toBe('20.5k');
    expect(formatCount(123_456)).toBe('123k');
    expect(formatCount(999_999)).toBe('1.00M');
    expect(formatCount(1_500_000)).toBe('1.50M');
  });

  it('writes durations for an ETA', () => {
    expect(formatDuration(null)).toBe('unknown');
    expect(formatDuration(44.6)).toBe('45 s');
    expect(formatDuration(200)).toBe('3 min 20 s');
    expect(formatDuration(12 * 60 + 5)).toBe('12 min');
    expect(formatDuration(3900)).toBe('1 h 5 min');
  });

  it('lists the statistics in a fixed order with their raw values', () => {
    const entries = statEntries({ count: 20000, min: -0.17, max: 3.2, mean: 0.05, frequency: 0.125 });
    expect(entries.map((e) => e.key)).toEqual(['max', 'min', 'mean', 'frequency', 'count']);
    expect(entries.map((e) => e.text)).toEqual(['3.20', '-0.170', '0.050', '12.5%', '20.0k']);
    expect(entries[0]!.value).toBe(3.2);
  });
});

describe('corpus index status in words', () => {
  const building: IndexStatus = { state: 'building', corpus: 'brown', done: 2500, total: 10000, tokensPerSecond: 1250, etaSeconds: 6, message: undefined };

  it('gives progress, rate and time left while building', () => {
    expect(indexFraction(building)).toBe(0.25);
    expect(indexStatusText(building)).toBe('Indexing brown: 2.50k / 10.0k tokens (25%) · 1.25k tokens/s · 6 s left');
  });

  it('leaves out an unknown rate and ETA, and says why a build failed', () => {
    expect(indexStatusText({ ...building, tokensPerSecond: 0, etaSeconds: null })).toBe('Indexing brown: 2.50k / 10.0k tokens (25%)');
    expect(indexStatusText({ ...building, state: 'error', message: 'disk full' })).toBe('Index build failed: disk full');
    expect(indexFraction({ ...building, total: 0 })).toBe(0);
    expect(indexStatusText({ ...building, done: 0, total: 0, message: 'tokenizing the corpus' })).toBe('Indexing brown: tokenizing the corpus…');
    expect(indexStatusText({ ...building, state: 'absent', message: undefined })).toBe('No corpus index for this model yet');
  });
});

describe('token highlight', () => {
  it('is the full positive colour at the neuron maximum and fades towards zero', () => {
    const top = tokenHighlight(4, 4);
    expect(top.t).toBe(1);
    expect(top.background).toBe(activationCss(4, 4));
    expect(top.color).toBe('#1a1207'); // dark text on the bright end
    const half = tokenHighlight(1, 4);
    expect(half.t).toBeCloseTo(0.5, 10); // √ scale, like the clouds
    expect(half.color).toBe('#e6e9f0');
  });

  it('clamps above the maximum, keeps the sign of negative activations and leaves ~0 unpainted', () => {
    expect(tokenHighlight(9, 4).t).toBe(1);
    expect(tokenHighlight(-1, 4).t).toBeCloseTo(-0.5, 10);
    expect(tokenHighlight(0.02, 4).background).toBe('transparent');
    expect(tokenHighlight(0.05, 4).background).not.toBe('transparent');
  });

  it('still colours a neuron whose maximum is not positive', () => {
    expect(tokenHighlight(-0.2, 0).t).toBe(-1);
  });
});

describe('example token text', () => {
  it('keeps spaces, shows line breaks and tabs, and shortens special tokens', () => {
    expect(exampleTokenText(' the')).toBe(' the');
    expect(exampleTokenText('\n\n')).toBe('↵↵');
    expect(exampleTokenText('\tx')).toBe('⇥x');
    expect(exampleTokenText('<|endoftext|>')).toBe('⟨endoftext⟩');
    expect(exampleTokenText('<b>')).toBe('<b>');
  });
});

describe('histogram bars', () => {
  const histogram = { edges: [-1, 0, 1, 3], counts: [9, 0, 99] };

  it('places bars by bin edges and scales heights by log(1 + count)', () => {
    const bars = histogramBars(histogram, 400, 100);
    expect(bars.map((b) => [b.x, b.width])).toEqual([[0, 100], [100, 100], [200, 200]]);
    expect(bars[2]!.height).toBe(100);
    expect(bars[1]!.height).toBe(0);
    expect(bars[0]!.height).toBeCloseTo(50, 10); // log(10) / log(100)
    expect(bars[0]!.centre).toBe(-0.5);
  });

  it('refuses malformed histograms and maps values to x', () => {
    expect(histogramBars({ edges: [0, 1], counts: [1, 2] }, 100, 10)).toEqual([]);
    expect(histogramX(histogram, 400, 0)).toBe(100);
    expect(histogramX(histogram, 400, 5)).toBeNull();
  });
});
