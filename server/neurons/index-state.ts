/**
 * The streaming state of an index build: what it keeps per neuron while contexts go by, in
 * bounded memory (never the corpus's activation matrix), all in typed arrays:
 *   - statistics: sum (float64: each context's sum, added in corpus order), count of activations
 *     > 0, min; the max is the best top-k value;
 *   - a histogram of fixed-width bins anchored at 0 whose width (a power of two) doubles, merging
 *     pairs exactly, when a value falls outside its 2H bins — so the final histogram is the exact
 *     one at the final width, whatever the order or batching of the contexts;
 *   - the k contexts with the highest maximum activation (ties: the lower context index first),
 *     each with a window of per-token activations around its maximum (int8, one scale each);
 *   - a bottom-S hash sample of the contexts where the neuron is active (max > 0): the S
 *     contexts with the smallest hash(neuron, context), a uniform sample that does not depend on
 *     batch boundaries; the examples at activation quantiles are taken from it.
 * Every update is per context in corpus order, so a build resumed from a checkpoint ends with
 * exactly the state of an uninterrupted one.
 *
 * Legend: L layers, N neurons per layer (d_mlp), G = L × N, C positions per context,
 * k top examples, S sample size, W window positions (WINDOW_BEFORE + 1 + WINDOW_AFTER).
 */

export const WINDOW_BEFORE = 24;
export const WINDOW_AFTER = 8;
export const WINDOW = WINDOW_BEFORE + 1 + WINDOW_AFTER;
/** Bins on each side of 0: values in [-H·w, H·w) fit. */
export const HISTOGRAM_HALF = 64;
export const HISTOGRAM_BINS = 2 * HISTOGRAM_HALF;
/** Starting bin width 2^-16: narrow enough for any neuron, widened as values arrive. */
const INITIAL_WIDTH_EXPONENT = -16;

export interface IndexParams {
  nLayers: number;
  /** Units per layer: d_mlp for MLP neurons, F for a transcoder set's features (the same state
   * and store serve both; "neuron" below reads "unit"). */
  dMlp: number;
  contextLength: number;
  /** First scored position of every context (1 after a BOS). */
  scoredStart: number;
  /** k. */
  topK: number;
  /** S. */
  sampleSize: number;
}

/**
 * m example slots per neuron, unordered: a new example overwrites the current worst one (no
 * shifting), and the worst is found again by a scan of m. Sorted once, when the store is written.
 * The top-k list ranks by value (higher first, then lower context); the sample by hash (lower
 * first, then lower context). Contexts arrive in increasing order, so a newcomer that only ties
 * the worst never displaces it.
 */
export class ExampleSlots {
  readonly count: Uint8Array; // [G]
  readonly worst: Uint8Array; // [G] the slot a better newcomer replaces (when full)
  readonly value: Float32Array; // [G, m] the context's maximum
  readonly context: Int32Array; // [G, m]
  readonly position: Uint16Array; // [G, m] of the maximum in its context
  readonly windowStart: Uint16Array; // [G, m]
  readonly windowLength: Uint8Array; // [G, m]
  readonly scale: Float32Array; // [G, m] window activation = code × scale
  readonly codes: Int8Array; // [G, m, W]
  readonly hash: Uint32Array; // [G, m] (the sample's rank; unused by the top-k list)

  constructor(readonly neurons: number, readonly slots: number, readonly rankBy: 'value' | 'hash') {
    const n = neurons * slots;
    this.count = new Uint8Array(neurons);
    this.worst = new Uint8Array(neurons);
    this.value = new Float32Array(n);
    this.context = new Int32Array(n);
    this.position = new Uint16Array(n);
    this.windowStart = new Uint16Array(n);
    this.windowLength = new Uint8Array(n);
    this.scale = new Float32Array(n);
    this.codes = new Int8Array(n * WINDOW);
    this.hash = new Uint32Array(n);
  }

  /** Every array, in a fixed order (checkpoints). */
  arrays(): ArrayBufferView[] {
    return [this.count, this.worst, this.value, this.context, this.position, this.windowStart, this.windowLength, this.scale, this.codes, this.hash];
  }

  /** Whether slot a ranks below slot b (absolute slot indices). */
  private below(a: number, b: number): boolean {
    if (this.rankBy === 'value') {
      return this.value[a]! < this.value[b]! || (this.value[a] === this.value[b] && this.context[a]! > this.context[b]!);
    }
    return this.hash[a]! > this.hash[b]! || (this.hash[a] === this.hash[b] && this.context[a]! > this.context[b]!);
  }

  /** Recomputes neuron g's worst slot (after it filled up or its worst was replaced). */
  findWorst(g: number): void {
    const base = g * this.slots;
    const end = base + this.count[g]!;
    const { value, hash, context } = this;
    let worst = base;
    if (this.rankBy === 'value') {
      for (let j = base + 1; j < end; j++) {
        if (value[j]! < value[worst]! || (value[j] === value[worst] && context[j]! > context[worst]!)) worst = j;
      }
    } else {
      for (let j = base + 1; j < end; j++) {
        if (hash[j]! > hash[worst]! || (hash[j] === hash[worst] && context[j]! > context[worst]!)) worst = j;
      }
    }
    this.worst[g] = worst - base;
  }

  /** Neuron g's filled slots, best first (absolute slot indices). */
  sorted(g: number): number[] {
    const base = g * this.slots;
    return Array.from({ length: this.count[g]! }, (_, j) => base + j).sort((a, b) => (this.below(a, b) ? 1 : this.below(b, a) ? -1 : 0));
  }
}

/** hash(neuron, context) → uint32 (murmur3's finaliser over both). */
export function sampleHash(neuron: number, context: number): number {
  let h = Math.imul(neuron, 0x9e3779b1) ^ Math.imul(context + 0x7f4a7c15, 0x85ebca6b);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

export class IndexState {
  readonly neurons: number;
  /** Contexts folded in so far (always a prefix of the corpus). */
  contextsDone = 0;
  readonly sum: Float64Array; // [G]
  readonly positive: Uint32Array; // [G]
  readonly min: Float32Array; // [G]
  readonly widthExponent: Int8Array; // [G] bin width w = 2^e
  readonly histogram: Uint32Array; // [G, 2H] slot s holds [(s − H)·w, (s − H + 1)·w)
  readonly top: ExampleSlots;
  readonly sample: ExampleSlots;
  private readonly inverseWidth: Float64Array; // [G] 1 / w
  /** What a context's maximum must beat to enter the top-k list: its worst value when full. */
  private readonly topThreshold: Float32Array; // [G]
  /** What a hash must be below to enter the sample: its worst hash when full, else 2^32. */
  private readonly sampleThreshold: Float64Array; // [G]

  constructor(readonly params: IndexParams) {
    const G = params.nLayers * params.dMlp;
    this.neurons = G;
    this.sum = new Float64Array(G);
    this.positive = new Uint32Array(G);
    this.min = new Float32Array(G).fill(Infinity);
    this.widthExponent = new Int8Array(G).fill(INITIAL_WIDTH_EXPONENT);
    this.inverseWidth = new Float64Array(G).fill(2 ** -INITIAL_WIDTH_EXPONENT);
    this.histogram = new Uint32Array(G * HISTOGRAM_BINS);
    this.top = new ExampleSlots(G, params.topK, 'value');
    this.sample = new ExampleSlots(G, params.sampleSize, 'hash');
    this.topThreshold = new Float32Array(G).fill(-Infinity);
    this.sampleThreshold = new Float64Array(G).fill(2 ** 32);
  }

  /** Every array, in a fixed order (checkpoints); `restored` recomputes what derives from them. */
  arrays(): ArrayBufferView[] {
    return [this.sum, this.positive, this.min, this.widthExponent, this.histogram, ...this.top.arrays(), ...this.sample.arrays()];
  }

  restored(contextsDone: number): void {
    this.contextsDone = contextsDone;
    for (let g = 0; g < this.neurons; g++) {
      this.inverseWidth[g] = 2 ** -this.widthExponent[g]!;
      this.updateThresholds(g);
    }
  }

  /**
   * Folds in layer `layer`'s activations of contexts [first, first + B), given as
   * blocks.{layer}.mlp.hook_post [B, C, N]. Call for every layer of a batch, then `advance`.
   */
  addLayer(layer: number, activations: Float32Array, first: number, B: number): void {
    const { dMlp: N, contextLength: C, scoredStart } = this.params;
    const g0 = layer * N;
    const sum = this.sum.subarray(g0, g0 + N);
    const positive = this.positive.subarray(g0, g0 + N);
    const min = this.min.subarray(g0, g0 + N);
    const inverseWidth = this.inverseWidth.subarray(g0, g0 + N);
    const histogram = this.histogram.subarray(g0 * HISTOGRAM_BINS, (g0 + N) * HISTOGRAM_BINS);
    const H = HISTOGRAM_HALF;
    const { topThreshold, sampleThreshold } = this;
    // Neuron by neuron within a context: the context's C × N block stays in cache and each
    // neuron's accumulators stay in registers.
    for (let b = 0; b < B; b++) {
      const context = first + b;
      const block = b * C * N;
      for (let i = 0; i < N; i++) {
        let contextSum = 0;
        let contextPositive = 0;
        let lowest = min[i]!;
        let best = -Infinity;
        let bestAt = scoredStart;
        let inverse = inverseWidth[i]!;
        const bins = i * HISTOGRAM_BINS;
        for (let t = scoredStart; t < C; t++) {
          const x = activations[block + t * N + i]!;
          contextSum += x;
          if (x > 0) contextPositive++;
          if (x < lowest) lowest = x;
          if (x > best) {
            best = x;
            bestAt = t;
          }
          const q = x * inverse; // exact: the width is a power of two
          if (q >= -H && q < H) {
            histogram[bins + H + Math.floor(q)]++;
          } else {
            const bin = this.widen(g0 + i, x);
            inverse = inverseWidth[i]!;
            if (bin >= 0) histogram[bins + bin]++; // not finite: in the sum (it shows), not binned
          }
        }
        sum[i] += contextSum; // per-context partial sums, added in corpus order
        positive[i] += contextPositive;
        min[i] = lowest;
        const g = g0 + i;
        if (best > topThreshold[g]!) this.offer(this.top, g, best, 0, context, bestAt, activations, b, i);
        if (best > 0) {
          const h = sampleHash(g, context);
          if (h < sampleThreshold[g]!) this.offer(this.sample, g, best, h, context, bestAt, activations, b, i);
        }
      }
    }
  }

  /** After every layer of a batch of B contexts was added. */
  advance(B: number): void {
    this.contextsDone += B;
  }

  /** Doubles neuron g's bin width until x fits, merging bin pairs; returns x's bin, or -1. */
  private widen(g: number, x: number): number {
    if (!Number.isFinite(x)) return -1;
    const H = HISTOGRAM_HALF;
    const bins = this.histogram.subarray(g * HISTOGRAM_BINS, (g + 1) * HISTOGRAM_BINS);
    let steps = 0;
    let inverse = this.inverseWidth[g]!;
    while (!(x * inverse >= -H && x * inverse < H)) {
      inverse /= 2;
      steps++;
    }
    const merged = new Uint32Array(HISTOGRAM_BINS);
    // Bin k = s − H at width w lies in bin floor(k / 2^steps) at width w·2^steps.
    for (let s = 0; s < HISTOGRAM_BINS; s++) merged[Math.floor((s - H) / 2 ** steps) + H]! += bins[s]!;
    bins.set(merged);
    this.widthExponent[g]! += steps;
    this.inverseWidth[g] = inverse;
    return Math.floor(x * inverse) + H;
  }

  /** Writes the activation window around position t of context row b into slot `slot`. */
  private writeSlot(slots: ExampleSlots, slot: number, value: number, context: number, t: number,
    activations: Float32Array, b: number, i: number): void {
    const { dMlp: N, contextLength: C, scoredStart } = this.params;
    const start = Math.max(scoredStart, t - WINDOW_BEFORE);
    const end = Math.min(C, t + WINDOW_AFTER + 1);
    let maxAbs = 0;
    for (let s = start; s < end; s++) maxAbs = Math.max(maxAbs, Math.abs(activations[(b * C + s) * N + i]!));
    const scale = maxAbs > 0 ? maxAbs / 127 : 0;
    const codes = slots.codes;
    const base = slot * WINDOW;
    codes.fill(0, base, base + WINDOW);
    for (let s = start; s < end; s++) {
      codes[base + s - start] = scale > 0 ? Math.round(activations[(b * C + s) * N + i]! / scale) : 0;
    }
    slots.value[slot] = value;
    slots.context[slot] = context;
    slots.position[slot] = t;
    slots.windowStart[slot] = start;
    slots.windowLength[slot] = end - start;
    slots.scale[slot] = scale;
  }

  /** Puts an example in neuron g's slots: a free one, else over the worst. */
  private offer(slots: ExampleSlots, g: number, value: number, hash: number, context: number, t: number,
    activations: Float32Array, b: number, i: number): void {
    const count = slots.count[g]!;
    const slot = g * slots.slots + (count < slots.slots ? count : slots.worst[g]!);
    this.writeSlot(slots, slot, value, context, t, activations, b, i);
    slots.hash[slot] = hash;
    if (count < slots.slots) slots.count[g] = count + 1;
    if (slots.count[g] === slots.slots) {
      slots.findWorst(g);
      this.updateThresholds(g);
    }
  }

  private updateThresholds(g: number): void {
    const { top, sample } = this;
    this.topThreshold[g] = top.count[g] === top.slots ? top.value[g * top.slots + top.worst[g]!]! : -Infinity;
    this.sampleThreshold[g] = sample.count[g] === sample.slots ? sample.hash[g * sample.slots + sample.worst[g]!]! : 2 ** 32;
  }
}
