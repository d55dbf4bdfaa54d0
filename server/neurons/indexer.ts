/**
 * One index build, as a sequence of short steps (a scheduler runs one at a time, between
 * users' runs; the CLI runs them in a loop). A build covers one or more *parts*, families of
 * units read from the same corpus pass (IndexedUnits): the MLP neurons (neuronUnits) and, when
 * transcoders are loaded, their features (transcoders/feature-index.ts), each with its own
 * streaming state and store file:
 *   1. corpus: one batch of contexts per step through a runner compiled for the parts' hooks
 *      alone (blocks.{l}.mlp.hook_post, the transcoders' inputs; no logits), folded into each
 *      part's streaming state; a checkpoint of every part (one file) after the first batch (a
 *      build killed early keeps its start), then every 30 s of work (at most that much is lost)
 *      or every 64 batches, and when the corpus is done;
 *   2. records: per step a block of units gets its logit effects (ONNX, batched; the unit's
 *      write direction folded through the final norm) and its record appended to its part's
 *      store file being written;
 *   3. finish: per part, header and directory, fsync, rename into place; then the checkpoint is
 *      deleted.
 * A build that finds a checkpoint of the same model, corpus, parts and parameters resumes from it.
 *
 * Legend: L layers, N units per layer, G = L × N, C positions per context, B contexts per batch.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Decoder, DecoderSpec, Tensor } from '../../shared/engine/decoder.js';
import { hookName } from '../../shared/engine/hooks.js';
import { ModelRunner, type Device } from '../../shared/engine/runner.js';
import { readCheckpoint, writeCheckpoint } from './checkpoint.js';
import type { CorpusContexts } from './contexts.js';
import { HISTOGRAM_HALF, IndexState, WINDOW, type ExampleSlots, type IndexParams } from './index-state.js';
import { BulkLogitEffects, foldedRow, type TokenEffects } from './logit-effects.js';
import type { StoredExample, StoredNeuron } from './record.js';
import { StoreWriter, type StoreHeader } from './store.js';

export const DEFAULT_TOP_K = 20;
export const DEFAULT_SAMPLE_SIZE = 24;
export const QUANTILES = [0.1, 0.3, 0.5, 0.7, 0.9];

export interface BuildOptions {
  topK?: number;
  sampleSize?: number;
  /** Contexts per batch; default from the model's size (about 20 GFLOP, ≈ 0.1–0.5 s here). */
  batchContexts?: number;
  /** Checkpoint after the first batch, then after this many batches (default 64) or this many
   * seconds since the last checkpoint (default 30), whichever comes first. */
  checkpointEveryBatches?: number;
  checkpointEverySeconds?: number;
  device?: Device;
  /** ONNX Runtime threads for the build's sessions (default: its own choice). */
  threads?: number;
}

/** Where a model's index files live: `<indexDir>/<model key>/`; with a transcoder set's key, its
 * feature store (`<corpus>.<transcoders>.fidx`) and the checkpoint of a build that covers it. */
export function indexPaths(indexDir: string, modelKey: string, corpusKey: string, transcodersKey?: string) {
  const dir = join(indexDir, modelKey.slice(0, 16));
  const base = join(dir, corpusKey.slice(0, 16));
  const withFeatures = transcodersKey ? `${base}.${transcodersKey.slice(0, 16)}` : null;
  return {
    dir, store: `${base}.nidx`, checkpoint: `${base}.checkpoint`, explanations: join(dir, 'explanations.json'),
    features: withFeatures ? `${withFeatures}.fidx` : null, featureCheckpoint: withFeatures ? `${withFeatures}.checkpoint` : null,
  };
}

/** One family of units an index build covers: L layers × N units. */
export interface IndexedUnits {
  /** 'neurons', or `features:<transcoder key>` (the checkpoint's part name). */
  name: string;
  /** Shown in progress messages: 'neurons', 'features'. */
  noun: string;
  nLayers: number;
  perLayer: number;
  /** Where its store is written. */
  store: string;
  /** Header fields besides the build's (a feature store's transcoder key). */
  header?: Partial<StoreHeader>;
  /** Hooks the corpus runner must return for it. */
  hooks: string[];
  /** Layer l's activations [B, C, N] from a batch's cache (hooks above). */
  activations(cache: Record<string, Tensor>, layer: number): Promise<Float32Array>;
  /** fold(what unit (layer, index) writes per unit of activation) into `out` [d] (logit-effects.ts). */
  foldedRow(layer: number, index: number, out: Float32Array): Float32Array;
}

/** The MLP neurons: blocks.{l}.mlp.hook_post, writing their W_out rows. */
export function neuronUnits(decoder: Decoder, store: string): IndexedUnits {
  const { nLayers, dMlp } = decoder.spec;
  const hooks = Array.from({ length: nLayers }, (_, l) => hookName.mlpPost(l));
  return {
    name: 'neurons', noun: 'neurons', nLayers, perLayer: dMlp, store, hooks,
    activations: async (cache, layer) => cache[hooks[layer]!]!.data,
    foldedRow: (layer, index, out) => foldedRow(decoder, layer, index, out),
  };
}

interface Part {
  units: IndexedUnits;
  state: IndexState;
  writer: StoreWriter | null;
  finished: boolean;
}

/** Forward FLOPs of one position, without the unembedding (an estimate for batch sizing). */
function flopsPerToken(spec: DecoderSpec, C: number): number {
  const { dModel: d, nHeads: H, nKvHeads: Hkv, dHead: dh, dMlp } = spec;
  const matrices = d * H * dh * 2 + 2 * d * Hkv * dh + (spec.mlp.kind === 'gated' ? 3 : 2) * d * dMlp;
  return spec.nLayers * (2 * matrices + 2 * C * H * dh); // attention: scores and mixing, ≈ C/2 keys each
}

export function defaultBatchContexts(spec: DecoderSpec, C: number): number {
  return Math.max(1, Math.min(32, Math.round(20e9 / (flopsPerToken(spec, C) * C))));
}

export class IndexBuild {
  private lastCheckpoint = performance.now();
  private batchesSinceCheckpoint = 0;
  /** Whether this run has written a checkpoint yet (its first comes after its first batch). */
  private checkpointed = false;
  private effects: BulkLogitEffects | null = null;
  private finished = false;
  private readonly hooks: string[];
  /** Contexts the build started from (a resumed build's checkpoint). */
  readonly resumedFrom: number;

  private constructor(
    private readonly decoder: Decoder,
    private readonly vocabSize: number,
    readonly contexts: CorpusContexts,
    private readonly keys: { modelKey: string; corpusKey: string },
    /** Where the checkpoint of this build (of these parts) goes. */
    readonly checkpointPath: string,
    private readonly runner: ModelRunner,
    private readonly parts: Part[],
    readonly batchContexts: number,
    private readonly options: BuildOptions,
  ) {
    this.hooks = [...new Set(parts.flatMap((p) => p.units.hooks))];
    this.resumedFrom = this.contextsDone;
  }

  /** A build of `units` (one part each, in this order) over `contexts`, resumed from the
   * checkpoint at `checkpointPath` when it holds exactly these parts. */
  static async prepare(
    decoder: Decoder, vocabSize: number, contexts: CorpusContexts, modelKey: string, units: IndexedUnits[], checkpointPath: string,
    options: BuildOptions = {},
  ): Promise<IndexBuild> {
    if (units.length === 0) throw new Error('index build: nothing to index');
    const { spec } = decoder;
    const paramsOf = (u: IndexedUnits): IndexParams => ({
      nLayers: u.nLayers, dMlp: u.perLayer, contextLength: contexts.contextLength, scoredStart: contexts.scoredStart,
      topK: options.topK ?? DEFAULT_TOP_K, sampleSize: options.sampleSize ?? DEFAULT_SAMPLE_SIZE,
    });
    const keys = { modelKey, corpusKey: contexts.key };
    const expected = units.map((u) => ({ name: u.name, params: paramsOf(u) }));
    const states = readCheckpoint(checkpointPath, { ...keys, parts: expected }) ?? expected.map((p) => new IndexState(p.params));
    const parts = units.map((u, k) => ({ units: u, state: states[k]!, writer: null, finished: false }));
    const hooks = [...new Set(units.flatMap((u) => u.hooks))];
    const runner = await ModelRunner.create(decoder, { device: options.device, threads: options.threads, outputs: hooks, onNotice: () => {} });
    const batch = options.batchContexts ?? defaultBatchContexts(spec, contexts.contextLength);
    return new IndexBuild(decoder, vocabSize, contexts, keys, checkpointPath, runner, parts, batch, options);
  }

  /** Contexts folded in so far (every part is at the same one). */
  get contextsDone(): number {
    return this.parts[0]!.state.contextsDone;
  }

  /** Units of every part (records to write). */
  get units(): number {
    return this.parts.reduce((n, p) => n + p.state.neurons, 0);
  }

  /** What the parts index, in words ('neurons and features'). */
  get nouns(): string {
    return this.parts.map((p) => p.units.noun).join(' and ');
  }

  /** The parts' store paths, in order. */
  get stores(): string[] {
    return this.parts.map((p) => p.units.store);
  }

  /** Tokens run so far and in all (contexts × C). */
  get done(): number {
    return this.contextsDone * this.contexts.contextLength;
  }

  get total(): number {
    return this.contexts.count * this.contexts.contextLength;
  }

  /** Units whose records are written (phase 2), of `units`. */
  get recordsDone(): number {
    return this.parts.reduce((n, p) => n + (p.finished ? p.state.neurons : p.writer?.added ?? 0), 0);
  }

  /** Runs one step; resolves false when every part's store is in place. */
  async step(): Promise<boolean> {
    if (this.finished) return false;
    if (this.contextsDone < this.contexts.count) {
      await this.batch();
      if (this.contextsDone === this.contexts.count) await this.checkpoint();
      return true;
    }
    for (const part of this.parts) {
      if (part.finished) continue;
      part.writer ??= await StoreWriter.create(part.units.store, this.header(part.units));
      if (part.writer.added < part.state.neurons) {
        await this.records(part);
        return true;
      }
      await part.writer.finish();
      part.writer = null;
      part.finished = true;
    }
    rmSync(this.checkpointPath, { force: true });
    this.finished = true;
    await this.dispose();
    return false;
  }

  /** Saves the streaming state now (at a batch boundary: between steps; no step may run until
   * it resolves). */
  async checkpoint(): Promise<void> {
    await writeCheckpoint(this.checkpointPath, this.parts.map((p) => ({ name: p.units.name, state: p.state })), this.keys);
    this.lastCheckpoint = performance.now();
    this.batchesSinceCheckpoint = 0;
    this.checkpointed = true;
  }

  /** Releases the sessions and drops unfinished store files; the checkpoint stays. */
  async dispose(): Promise<void> {
    for (const part of this.parts) {
      if (part.writer && !part.finished) await part.writer.abort();
      part.writer = null;
    }
    await this.effects?.dispose();
    this.effects = null;
    await this.runner.dispose().catch(() => {});
  }

  private async batch(): Promise<void> {
    const { contexts } = this;
    const C = contexts.contextLength;
    const first = this.contextsDone;
    const B = Math.min(this.batchContexts, contexts.count - first);
    const rows = Array.from({ length: B }, (_, b) => Array.from(contexts.tokens.subarray((first + b) * C, (first + b + 1) * C)));
    const cache = await this.runner.runHooks(rows, this.hooks);
    for (const { units, state } of this.parts) {
      for (let l = 0; l < units.nLayers; l++) state.addLayer(l, await units.activations(cache, l), first, B); // [B, C, N]
    }
    for (const { state } of this.parts) state.advance(B);
    this.batchesSinceCheckpoint++;
    const everyBatches = this.options.checkpointEveryBatches ?? 64;
    const everyMs = (this.options.checkpointEverySeconds ?? 30) * 1000;
    const due = !this.checkpointed || this.batchesSinceCheckpoint >= everyBatches || performance.now() - this.lastCheckpoint >= everyMs;
    if (due && this.contextsDone < contexts.count) await this.checkpoint(); // the last batch's comes from step()
  }

  private header(units: IndexedUnits): StoreHeader {
    const { topK, sampleSize, scoredStart } = this.parts[0]!.state.params;
    const C = this.contexts.contextLength;
    return {
      modelKey: this.keys.modelKey, corpusKey: this.keys.corpusKey, corpus: this.contexts.name,
      nLayers: units.nLayers, dMlp: units.perLayer, contextLength: C, contexts: this.contexts.count,
      tokens: this.contexts.count * (C - scoredStart), topK, sampleSize,
      quantiles: QUANTILES, tokenBytes: this.decoder.spec.vocabSize <= 65536 ? 2 : 4, ...units.header,
    };
  }

  /** Logit effects and records of the part's next block of units. */
  private async records({ units, state, writer }: Part): Promise<void> {
    this.effects ??= await BulkLogitEffects.create(this.decoder, this.vocabSize);
    const N = units.perLayer;
    const d = this.decoder.spec.dModel;
    const first = writer!.added;
    const n = Math.min(this.effects.batch, state.neurons - first);
    const rows = new Float32Array(n * d);
    for (let r = 0; r < n; r++) units.foldedRow(Math.floor((first + r) / N), (first + r) % N, rows.subarray(r * d, (r + 1) * d));
    const effects = await this.effects.compute(rows, n, d);
    for (let r = 0; r < n; r++) await writer!.add(this.record(state, first + r, effects[r]!));
  }

  private example(slots: ExampleSlots, slot: number): StoredExample {
    const C = this.contexts.contextLength;
    const context = slots.context[slot]!;
    const start = slots.windowStart[slot]!;
    const length = slots.windowLength[slot]!;
    const at = context * C + start;
    return {
      context, position: slots.position[slot]!, value: slots.value[slot]!, windowStart: start,
      tokens: this.contexts.tokens.subarray(at, at + length), scale: slots.scale[slot]!,
      codes: slots.codes.slice(slot * WINDOW, slot * WINDOW + length),
    };
  }

  /** Unit g's record from its part's streaming state. */
  private record(state: IndexState, g: number, effects: TokenEffects): StoredNeuron {
    const { sampleSize: S, contextLength: C, scoredStart } = state.params;
    const count = this.contexts.count * (C - scoredStart);
    const best = state.top.sorted(g);
    const max = state.top.value[best[0]!]!;
    const min = state.min[g]!;
    // The histogram's bins from the one holding min to the one holding max.
    const e = state.widthExponent[g]!;
    const binOf = (x: number) => Math.min(HISTOGRAM_HALF - 1, Math.max(-HISTOGRAM_HALF, Math.floor(x * 2 ** -e)));
    const lo = Number.isFinite(min) ? binOf(min) : -HISTOGRAM_HALF;
    const hi = Number.isFinite(max) ? binOf(max) : HISTOGRAM_HALF - 1;
    const histogram = state.histogram.slice(g * 2 * HISTOGRAM_HALF + lo + HISTOGRAM_HALF, g * 2 * HISTOGRAM_HALF + hi + HISTOGRAM_HALF + 1);
    const top = best.map((slot) => this.example(state.top, slot));
    // Quantiles of the sample of active contexts, by value (ties: the lower context first).
    const sampled = Array.from({ length: state.sample.count[g]! }, (_, j) => g * S + j)
      .sort((a, b) => state.sample.value[a]! - state.sample.value[b]! || state.sample.context[a]! - state.sample.context[b]!);
    const quantiles: StoredNeuron['quantiles'] = [];
    let previous = -1;
    for (const quantile of QUANTILES) {
      const at = Math.round(quantile * (sampled.length - 1));
      if (sampled.length === 0 || at === previous) continue;
      previous = at;
      quantiles.push({ quantile, example: this.example(state.sample, sampled[at]!) });
    }
    return {
      count, min, max, mean: state.sum[g]! / count, frequency: state.positive[g]! / count,
      histogram: { widthExponent: e, firstBin: lo, counts: histogram },
      top, quantiles, promoted: effects.promoted, suppressed: effects.suppressed,
    };
  }
}

/** Moves a corrupt store aside (`.corrupt`, replacing an older one) so it is never served. */
export function quarantine(path: string): void {
  if (existsSync(path)) renameSync(path, `${path}.corrupt`);
}
