/**
 * Activation store: every MLP neuron of every layer at every position of the current run, kept
 * exactly as it arrives on the wire (int8 with one float scale per layer and position), plus the
 * attention pattern rows. Streamed data lives here, in typed arrays, never in React state: the
 * scene reads it in `useFrame` and compares `version` to know when to copy into its buffers.
 *
 * Legend: L layers, N neurons per layer, H heads, T positions (grows during generation).
 * Storage is allocated in chunks of positions and reused across runs (no allocation per frame
 * once a run has reached its length before).
 */

import type { SparseFeatures } from '../../shared/frame-codec.js';

const positionsPerChunk = 16;

export interface ActivationShape {
  nLayers: number;
  neuronsPerLayer: number;
  nHeads: number;
}

/** One decoded frame as the store consumes it (see frame-adapter.ts). */
export interface ActivationFrame {
  position: number;
  tokenId: number;
  /** [L * N] int8, layer-major. */
  neurons: Int8Array;
  /** [L] dequantisation scale per layer: value = q * scale. */
  scales: Float32Array;
  /** [L * H * (position + 1)] attention weights of this query position, or empty. */
  attention: Float32Array;
  /** Active transcoder features of every layer (clients subscribed to them), or absent. */
  features?: SparseFeatures | null;
}

export interface ActivationSnapshot {
  shape: ActivationShape;
  length: number;
  maxAbs: number;
  neuronChunks: Int8Array[];
  scaleChunks: Float32Array[];
  attention: Float32Array[];
  written: Uint8Array;
  features?: (SparseFeatures | null)[];
  featureMax?: number;
}

export class ActivationStore {
  shape: ActivationShape = { nLayers: 0, neuronsPerLayer: 0, nHeads: 0 };
  /** Bumped on every write or reset; the scene polls it each frame. */
  version = 0;
  /** Positions 0..length-1 have frames. */
  length = 0;
  /** Largest |activation| seen in this run: the colour scale's range. */
  maxAbs = 1e-6;

  private neuronChunks: Int8Array[] = []; // each [positionsPerChunk * L * N]
  private scaleChunks: Float32Array[] = []; // each [positionsPerChunk * L]
  private attention: Float32Array[] = []; // per position [L * H * (p + 1)]
  private written: Uint8Array = new Uint8Array(0);
  /** Per position: the sparse features its frame carried (null: none). Kept sparse, ~30 per layer. */
  private features: (SparseFeatures | null)[] = [];
  /** Largest feature activation seen in this run: the feature clouds' colour range. */
  featureMax = 1e-6;

  /** Lays the store out for a model; a different shape drops everything. Returns whether it did. */
  configure(shape: ActivationShape): boolean {
    const same =
      shape.nLayers === this.shape.nLayers &&
      shape.neuronsPerLayer === this.shape.neuronsPerLayer &&
      shape.nHeads === this.shape.nHeads;
    if (same) return false;
    this.shape = { ...shape };
    this.neuronChunks = [];
    this.scaleChunks = [];
    this.attention = [];
    this.written = new Uint8Array(0);
    this.reset();
    return true;
  }

  /** Starts a new run: keeps the allocated chunks, forgets their contents. */
  reset(): void {
    this.length = 0;
    this.maxAbs = 1e-6;
    this.featureMax = 1e-6;
    this.features = [];
    this.written.fill(0);
    this.version++;
  }

  /**
   * A copy of what the store holds, so a failed request can put the previous scene back
   * (`restore`). Copies the written chunks only: a few MB at most for a 128-token run.
   */
  snapshot(): ActivationSnapshot {
    return {
      shape: { ...this.shape },
      length: this.length,
      maxAbs: this.maxAbs,
      neuronChunks: this.neuronChunks.map((chunk) => chunk.slice()),
      scaleChunks: this.scaleChunks.map((chunk) => chunk.slice()),
      attention: [...this.attention],
      written: this.written.slice(),
      features: [...this.features],
      featureMax: this.featureMax,
    };
  }

  /** Puts a snapshot back; ignored when the model's shape changed since. */
  restore(snapshot: ActivationSnapshot): boolean {
    const { shape } = snapshot;
    if (shape.nLayers !== this.shape.nLayers || shape.neuronsPerLayer !== this.shape.neuronsPerLayer || shape.nHeads !== this.shape.nHeads) return false;
    this.length = snapshot.length;
    this.maxAbs = snapshot.maxAbs;
    this.neuronChunks = snapshot.neuronChunks.map((chunk) => chunk.slice());
    this.scaleChunks = snapshot.scaleChunks.map((chunk) => chunk.slice());
    this.attention = [...snapshot.attention];
    this.written = snapshot.written.slice();
    this.features = [...(snapshot.features ?? [])];
    this.featureMax = snapshot.featureMax ?? 1e-6;
    this.version++;
    return true;
  }

  get neuronsPerPosition(): number {
    return this.shape.nLayers * this.shape.neuronsPerLayer;
  }

  has(position: number): boolean {
    return position >= 0 && position < this.written.length && this.written[position] === 1;
  }

  write(frame: ActivationFrame): void {
    const { nLayers } = this.shape;
    const perPosition = this.neuronsPerPosition;
    if (frame.neurons.length !== perPosition || frame.scales.length !== nLayers) {
      throw new Error(`frame shape mismatch: ${frame.neurons.length} neurons / ${frame.scales.length} scales, expected ${perPosition} / ${nLayers}`);
    }
    const p = frame.position;
    this.ensureCapacity(p + 1);
    const chunk = Math.floor(p / positionsPerChunk);
    const slot = p % positionsPerChunk;
    this.neuronChunks[chunk].set(frame.neurons, slot * perPosition);
    this.scaleChunks[chunk].set(frame.scales, slot * nLayers);
    this.attention[p] = frame.attention;
    this.features[p] = frame.features ?? null;
    if (frame.features) for (const v of frame.features.values) this.featureMax = Math.max(this.featureMax, v);
    this.written[p] = 1;
    for (let l = 0; l < nLayers; l++) this.maxAbs = Math.max(this.maxAbs, Math.abs(frame.scales[l]) * 127);
    this.length = Math.max(this.length, p + 1);
    this.version++;
  }

  /** Dequantised activations of one layer at one position into `out` [N]; zeros if missing. */
  readLayer(position: number, layer: number, out: Float32Array): void {
    const N = this.shape.neuronsPerLayer;
    if (!this.has(position)) {
      out.fill(0);
      return;
    }
    const chunk = Math.floor(position / positionsPerChunk);
    const slot = position % positionsPerChunk;
    const scale = this.scaleChunks[chunk][slot * this.shape.nLayers + layer];
    const q = this.neuronChunks[chunk];
    const base = slot * this.neuronsPerPosition + layer * N;
    for (let i = 0; i < N; i++) out[i] = q[base + i] * scale;
  }

  /** Whether the frame at `position` carried transcoder features. */
  hasFeatures(position: number): boolean {
    return this.has(position) && this.features[position] != null;
  }

  /**
   * Layer `layer`'s transcoder features at `position` into `out` [F] (dense, zeros where not
   * active or when the frame had none); returns how many are active.
   */
  readFeatureLayer(position: number, layer: number, out: Float32Array): number {
    out.fill(0);
    const f = this.has(position) ? this.features[position] : null;
    if (!f || layer >= f.counts.length) return 0;
    let start = 0;
    for (let l = 0; l < layer; l++) start += f.counts[l]!;
    const n = f.counts[layer]!;
    for (let j = 0; j < n; j++) {
      const index = f.indices[start + j]!;
      if (index < out.length) out[index] = f.values[start + j]!;
    }
    return n;
  }

  /** One neuron's activation at one position (0 if the frame is missing). */
  neuron(position: number, layer: number, index: number): number {
    if (!this.has(position)) return 0;
    const chunk = Math.floor(position / positionsPerChunk);
    const slot = position % positionsPerChunk;
    const scale = this.scaleChunks[chunk][slot * this.shape.nLayers + layer];
    return this.neuronChunks[chunk][slot * this.neuronsPerPosition + layer * this.shape.neuronsPerLayer + index] * scale;
  }

  /** The neuron's activation at every position 0..length-1 (its activation history). */
  history(layer: number, index: number): number[] {
    const values: number[] = [];
    for (let p = 0; p < this.length; p++) values.push(this.neuron(p, layer, index));
    return values;
  }

  /** Attention weights of head h in layer l from query `position` to keys 0..position. */
  attentionRow(position: number, layer: number, head: number): Float32Array | undefined {
    const row = this.attention[position];
    const keys = position + 1;
    const start = (layer * this.shape.nHeads + head) * keys;
    if (!row || row.length < start + keys) return undefined;
    return row.subarray(start, start + keys);
  }

  private ensureCapacity(positions: number): void {
    const perPosition = this.neuronsPerPosition;
    while (this.neuronChunks.length * positionsPerChunk < positions) {
      this.neuronChunks.push(new Int8Array(positionsPerChunk * perPosition));
      this.scaleChunks.push(new Float32Array(positionsPerChunk * this.shape.nLayers));
    }
    if (this.written.length < positions) {
      const grown = new Uint8Array(this.neuronChunks.length * positionsPerChunk);
      grown.set(this.written);
      this.written = grown;
    }
  }
}
