/**
 * The neuron space: the components that most raise and most lower Δ, by direct effect (at the
 * last position) or total effect (activation × gradient, summed over positions), optionally in
 * one layer. Neurons come from the full per-neuron arrays; heads from the server's top lists.
 */
import type { ComponentEffect } from '../../../shared/protocol.js';
import type { Effects, NeuronEffectMeasure } from './analysis-store.js';

export interface RankedComponent {
  kind: 'neuron' | 'head';
  layer: number;
  index: number;
  value: number;
}

export interface NeuronRanking {
  raising: RankedComponent[];
  lowering: RankedComponent[];
  /** Largest |value| over both lists (for bar lengths). */
  maxAbs: number;
}

/** `layers` is the model's L (the per-neuron arrays are [L * N]). */
export function rankComponents(effects: Effects, layers: number, measure: NeuronEffectMeasure, layerFilter: number | null, count: number): NeuronRanking {
  const values = measure === 'direct' ? effects.neuronDirect : effects.neuronTotal;
  const n = Math.floor(values.length / Math.max(1, layers));
  const candidates: RankedComponent[] = [];
  // Keep the `count` largest and smallest neurons with two bounded scans (no full sort of L×N).
  const top = (sign: 1 | -1) => {
    const best: RankedComponent[] = [];
    for (let layer = 0; layer < layers; layer++) {
      if (layerFilter !== null && layer !== layerFilter) continue;
      for (let i = 0; i < n; i++) {
        const value = values[layer * n + i]!;
        if (!(value * sign > 0)) continue;
        if (best.length === count && value * sign <= best[best.length - 1]!.value * sign) continue;
        best.push({ kind: 'neuron', layer, index: i, value });
        best.sort((a, b) => (b.value - a.value) * sign);
        if (best.length > count) best.pop();
      }
    }
    return best;
  };
  candidates.push(...top(1), ...top(-1), ...headEffects(measure === 'direct' ? effects.direct : effects.total, layerFilter));
  const raising = candidates.filter((c) => c.value > 0).sort((a, b) => b.value - a.value).slice(0, count);
  const lowering = candidates.filter((c) => c.value < 0).sort((a, b) => a.value - b.value).slice(0, count);
  let maxAbs = 0;
  for (const c of [...raising, ...lowering]) maxAbs = Math.max(maxAbs, Math.abs(c.value));
  return { raising, lowering, maxAbs };
}

/** Heads summed over positions (total effects list one entry per position). */
function headEffects(list: ComponentEffect[], layerFilter: number | null): RankedComponent[] {
  const byHead = new Map<string, RankedComponent>();
  for (const e of list) {
    if (e.kind !== 'head' || (layerFilter !== null && e.layer !== layerFilter)) continue;
    const key = `${e.layer}:${e.index}`;
    const entry = byHead.get(key);
    if (entry) entry.value += e.value;
    else byHead.set(key, { kind: 'head', layer: e.layer, index: e.index, value: e.value });
  }
  return [...byHead.values()];
}

export function componentLabel(c: Pick<RankedComponent, 'kind' | 'layer' | 'index'>): string {
  return c.kind === 'neuron' ? `L${c.layer} N${c.index}` : `L${c.layer} H${c.index}`;
}
