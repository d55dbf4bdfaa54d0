/**
 * What the in-scene neuron explanation panel says, as text lines (what tests read back) and
 * the pieces it draws: the selected neuron's id, its imported explanation, corpus statistics
 * and histogram, the first top examples (a window around the focus token) and the tokens it promotes and
 * suppresses — or why those are missing (loading, an error, no corpus index yet).
 */
import type { NeuronExample } from '../../../shared/neuron-index.js';
import { neuronLabel } from '../../state/app-store.js';
import { displayToken } from '../../scene/token-rail.js';
import { exampleTokenText, formatActivation, indexStatusText, statEntries } from '../state/neuron-format.js';
import type { NeuronViewState } from '../state/neuron-store.js';

/** Top examples the VR panel shows. */
export const panelExamples = 5;
/** Promoted and suppressed tokens it shows, each. */
export const panelLogitTokens = 6;

/** An example as one line of text: a few tokens either side of the focus, which is bracketed. */
export function exampleLine(example: NeuronExample, before = 8, after = 3): string {
  const text = (i: number) => exampleTokenText(example.tokens[i]?.text ?? '');
  const start = Math.max(0, example.focus - before);
  const end = Math.min(example.tokens.length, example.focus + 1 + after);
  let line = start > 0 ? '…' : '';
  for (let i = start; i < end; i++) line += i === example.focus ? `[${text(i)}]` : text(i);
  return line + (end < example.tokens.length ? '…' : '');
}

export function neuronPanelLines(state: NeuronViewState): string[] {
  const { neuron, status, details } = state;
  if (!neuron) return ['Neuron explanation', 'Point at a neuron and pull the trigger (or squeeze to grab it)'];
  const lines = [neuronLabel(neuron)];
  if (status === 'loading') lines.push('Loading…');
  if (status === 'error') lines.push(`Could not load: ${state.error ?? 'unknown error'}`);
  if (!details) return lines;
  const { explanation, indexed } = details;
  lines.push(explanation ? `“${explanation.text}”${explanation.score !== null ? ` (score ${explanation.score.toFixed(2)})` : ''}` : 'No imported explanation');
  if (indexed) {
    lines.push(statEntries(indexed.stats).map((entry) => `${entry.label} ${entry.text}`).join(' · '));
    const { edges, counts } = indexed.histogram;
    lines.push(`Histogram: ${counts.length} bins, ${formatActivation(edges[0] ?? 0)} … ${formatActivation(edges[edges.length - 1] ?? 0)}`);
    lines.push('Top examples');
    for (const example of indexed.topExamples.slice(0, panelExamples)) lines.push(`${formatActivation(example.value)}  ${exampleLine(example)}`);
  } else {
    lines.push(state.index ? indexStatusText(state.index) : 'Corpus index: status unknown');
  }
  const tokens = (effects: typeof details.promoted) =>
    effects.slice(0, panelLogitTokens).map((e) => `${displayToken(e.token.text)} ${formatActivation(e.value)}`).join(', ');
  lines.push(`Promotes: ${tokens(details.promoted)}`);
  lines.push(`Suppresses: ${tokens(details.suppressed)}`);
  return lines;
}
