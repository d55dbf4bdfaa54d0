/**
 * How the neuron explanation view writes numbers and colours tokens, shared by the desktop
 * panel and the in-scene VR panel so both read the same: activation values, shares, token
 * counts, durations, the corpus index's progress in words, the per-token highlight of an
 * example (the clouds' diverging √ scale, relative to the neuron's maximum) and the
 * histogram's bars (log-scaled counts, so rare large activations stay visible).
 * Pure functions, no DOM.
 */
import type { IndexStatus, NeuronHistogram, NeuronStats } from '../../../shared/neuron-index.js';
import { activationCss, scaleParameter } from '../../scene/colour-scale.js';

/** An activation with about three significant digits. */
export function formatActivation(value: number): string {
  if (!Number.isFinite(value)) return '—';
  const magnitude = Math.abs(value);
  const digits = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3;
  return value.toFixed(digits);
}

/** A share in [0, 1] as a percentage: '12.3%', '<0.1%' for tiny non-zero shares. */
export function formatShare(fraction: number): string {
  if (!Number.isFinite(fraction)) return '—';
  if (fraction <= 0) return '0%';
  if (fraction < 0.001) return '<0.1%';
  if (fraction >= 1) return '100%';
  return `${(fraction * 100).toFixed(1)}%`;
}

/** A count of tokens: 950, 1.23k, 12.3k, 123k, 1.50M. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const magnitude = Math.abs(n);
  const scaled = (divisor: number, unit: string) => {
    const x = n / divisor;
    const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
    return `${x.toFixed(digits)}${unit}`;
  };
  if (magnitude < 1000) return String(Math.round(n));
  if (magnitude < 999_500) return scaled(1000, 'k');
  return scaled(1_000_000, 'M');
}

/** Seconds as '45 s', '3 min 20 s', '12 min', '1 h 5 min'; null as 'unknown'. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return 'unknown';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 10) return `${minutes} min ${s % 60} s`;
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Share of the build done, in [0, 1]. */
export function indexFraction(status: IndexStatus): number {
  return status.total > 0 ? Math.min(1, Math.max(0, status.done / status.total)) : 0;
}

/** One line saying where the corpus index stands. */
export function indexStatusText(status: IndexStatus): string {
  const corpus = status.corpus || 'the corpus';
  const progress = `${formatCount(status.done)} / ${formatCount(status.total)} tokens`;
  switch (status.state) {
    case 'building': {
      // Before the corpus is tokenized the total is unknown: say what the build is doing.
      if (status.total === 0) return `Indexing ${corpus}: ${status.message ?? 'starting'}…`;
      const parts = [`Indexing ${corpus}: ${progress} (${Math.floor(indexFraction(status) * 100)}%)`];
      if (status.tokensPerSecond > 0) parts.push(`${formatCount(status.tokensPerSecond)} tokens/s`);
      if (status.etaSeconds !== null) parts.push(`${formatDuration(status.etaSeconds)} left`);
      return parts.join(' · ');
    }
    case 'ready':
      return `Corpus index: ${formatCount(status.total)} tokens of ${corpus}`;
    case 'absent':
      return `No corpus index for this model yet${status.message ? ` (${status.message})` : ''}`;
    case 'cancelled':
      return `Index build stopped at ${progress}${status.message ? ` (${status.message})` : ''}`;
    case 'error':
      return `Index build failed: ${status.message ?? 'unknown error'}`;
  }
}

export interface StatEntry {
  key: 'max' | 'min' | 'mean' | 'frequency' | 'count';
  label: string;
  value: number;
  text: string;
  /** What the number means, for a tooltip. */
  title: string;
}

export function statEntries(stats: NeuronStats): StatEntry[] {
  return [
    { key: 'max', label: 'max', value: stats.max, text: formatActivation(stats.max), title: 'Largest activation over the corpus' },
    { key: 'min', label: 'min', value: stats.min, text: formatActivation(stats.min), title: 'Smallest activation over the corpus' },
    { key: 'mean', label: 'mean', value: stats.mean, text: formatActivation(stats.mean), title: 'Mean activation over the corpus' },
    { key: 'frequency', label: 'active', value: stats.frequency, text: formatShare(stats.frequency), title: 'Share of tokens with activation > 0' },
    { key: 'count', label: 'tokens', value: stats.count, text: formatCount(stats.count), title: 'Tokens of the corpus the index has seen' },
  ];
}

export interface TokenHighlight {
  /** Position on the diverging scale, in [-1, 1] (√ of the activation over the neuron's max). */
  t: number;
  /** CSS colour; 'transparent' for activations under 1% of the maximum. */
  background: string;
  /** Dark text on bright backgrounds, light text elsewhere. */
  color: string;
}

/** How to paint one token of an example whose activation is `value`, relative to the neuron's `max`. */
export function tokenHighlight(value: number, max: number): TokenHighlight {
  const range = max > 0 ? max : Math.max(Math.abs(value), 1e-6);
  const t = scaleParameter(value, range);
  return {
    t,
    background: Math.abs(t) < 0.1 ? 'transparent' : activationCss(value, range),
    color: t > 0.6 ? '#1a1207' : '#e6e9f0',
  };
}

/** Special tokens such as `<|endoftext|>`. */
export function isSpecialToken(text: string): boolean {
  return /^<\|[^|]*\|>$/.test(text);
}

/** A token's text as it reads inside running text: spaces kept, line breaks and tabs shown,
 * special tokens short (`<|endoftext|>` → `⟨endoftext⟩`). */
export function exampleTokenText(text: string): string {
  if (isSpecialToken(text)) return `⟨${text.slice(2, -2)}⟩`;
  return text.replace(/\r?\n/g, '↵').replace(/\t/g, '⇥');
}

export interface HistogramBar {
  x: number;
  width: number;
  height: number;
  /** Middle of the bin, for its colour. */
  centre: number;
  count: number;
  from: number;
  to: number;
}

/**
 * Bars for a histogram drawn in a width × height box: x from the bin edges (linear in
 * activation), height by log(1 + count) over the largest bin's.
 */
export function histogramBars(histogram: NeuronHistogram, width: number, height: number): HistogramBar[] {
  const { edges, counts } = histogram;
  if (counts.length === 0 || edges.length !== counts.length + 1) return [];
  const low = edges[0]!;
  const span = edges[edges.length - 1]! - low || 1;
  const top = Math.log1p(Math.max(...counts));
  return counts.map((count, i) => {
    const from = edges[i]!;
    const to = edges[i + 1]!;
    const x = ((from - low) / span) * width;
    return {
      x,
      width: ((to - from) / span) * width,
      height: top > 0 ? (Math.log1p(count) / top) * height : 0,
      centre: (from + to) / 2,
      count,
      from,
      to,
    };
  });
}

/** Where activation `value` falls along a histogram of `width` (null when outside its range). */
export function histogramX(histogram: NeuronHistogram, width: number, value: number): number | null {
  const low = histogram.edges[0];
  const high = histogram.edges[histogram.edges.length - 1];
  if (low === undefined || high === undefined || value < low || value > high) return null;
  return ((value - low) / (high - low || 1)) * width;
}
