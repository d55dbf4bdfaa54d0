/**
 * A stored neuron record → the protocol's NeuronDetails pieces (tokens as {id, text}, window
 * activations decoded from int8, histogram edges from the bin width), with token texts cached.
 */
import type { Tokenizer } from '../engine/decoder.js';
import type { IndexedNeuron, LogitEffect, NeuronExample, NeuronHistogram } from '../neuron-index.js';
import type { FeatureDetails, FeatureExample, TokenInfo } from '../protocol.js';
import type { StoredExample, StoredNeuron } from './record.js';

export class TokenTexts {
  private readonly texts: (string | undefined)[] = [];
  constructor(private readonly tokenizer: Tokenizer) {}

  token(id: number): TokenInfo {
    let text = this.texts[id];
    if (text === undefined) text = this.texts[id] = this.tokenizer.tokenString(id);
    return { id, text };
  }
}

export function toLogitEffects(effects: { token: number; value: number }[], texts: TokenTexts): LogitEffect[] {
  return effects.map((e) => ({ token: texts.token(e.token), value: e.value }));
}

export function toExample(e: StoredExample, texts: TokenTexts): NeuronExample {
  return {
    tokens: Array.from(e.tokens, (id) => texts.token(id)),
    activations: Array.from(e.codes, (code) => code * e.scale),
    focus: e.position - e.windowStart,
    value: e.value,
    context: e.context,
    position: e.position,
  };
}

/** A stored histogram (bins of width 2^e from bin firstBin) with its edges. */
export function toHistogram({ widthExponent, firstBin, counts }: StoredNeuron['histogram']): NeuronHistogram {
  const width = 2 ** widthExponent;
  return { edges: Array.from({ length: counts.length + 1 }, (_, j) => (firstBin + j) * width), counts: Array.from(counts) };
}

export function toIndexedNeuron(n: StoredNeuron, texts: TokenTexts): IndexedNeuron {
  return {
    stats: { count: n.count, min: n.min, max: n.max, mean: n.mean, frequency: n.frequency },
    histogram: toHistogram(n.histogram),
    topExamples: n.top.map((e) => toExample(e, texts)),
    quantileExamples: n.quantiles.map((q) => ({ quantile: q.quantile, example: toExample(q.example, texts) })),
  };
}

/**
 * A histogram in the index's format (bins of width 2^e, the first one's lower edge a multiple of
 * it; bins from the one holding the minimum to the one holding the maximum) of values seen all at
 * once, with at most about `bins` bins. Used for transcoder features scanned on demand.
 */
export function binaryHistogram(values: ArrayLike<number>, bins = 64): NeuronHistogram {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    min = Math.min(min, values[i]!);
    max = Math.max(max, values[i]!);
  }
  if (!(max >= min)) return { edges: [0, 1], counts: [0] };
  const e = max > min ? Math.ceil(Math.log2((max - min) / bins)) : 0;
  const width = 2 ** e;
  const first = Math.floor(min / width);
  const counts = new Array<number>(Math.floor(max / width) - first + 1).fill(0);
  for (let i = 0; i < values.length; i++) counts[Math.min(counts.length - 1, Math.floor(values[i]! / width) - first)]!++;
  return { edges: Array.from({ length: counts.length + 1 }, (_, j) => (first + j) * width), counts };
}

/**
 * A stored feature record as 'feature:details' answers it (source 'index'). Where the on-demand
 * scan lists tokens, the index lists contexts: the top examples are the contexts with the highest
 * maximum (those where it fires), and each quantile is the context at that quantile of a uniform
 * sample of the contexts where it fires, ranked by their maximum (its value that maximum).
 */
export function storedFeatureDetails(record: StoredNeuron, layer: number, index: number, texts: TokenTexts, corpus: string): FeatureDetails {
  const example = (e: StoredExample): FeatureExample => {
    const { tokens, activations, focus } = toExample(e, texts);
    return { tokens, activations, max: e.value, at: focus, context: e.context, position: e.position };
  };
  return {
    layer, index, hook: `blocks.${layer}.transcoder`,
    promoted: toLogitEffects(record.promoted, texts), suppressed: toLogitEffects(record.suppressed, texts),
    corpus, tokensScanned: record.count, activeShare: record.frequency, maxActivation: Math.max(0, record.max),
    meanActive: record.frequency > 0 ? record.mean / record.frequency : 0,
    examples: record.top.filter((e) => e.value > 0).map(example),
    histogram: toHistogram(record.histogram),
    quantiles: record.quantiles.map((q) => ({ quantile: q.quantile, value: q.example.value, example: example(q.example) })),
    source: 'index',
  };
}
