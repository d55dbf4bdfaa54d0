/**
 * One index build, as a sequence of short steps (a scheduler runs one at a time, between
 * users' runs; the CLI runs them in a loop):
 *   1. corpus: one batch of contexts per step through a runner compiled for the MLP hooks alone
 *      (blocks.{l}.mlp.hook_post; no logits), folded into the streaming state; a checkpoint
 *      after the first batch (a build killed early keeps its start), then every 30 s of work
 *      (at most that much is lost) or every 64 batches, and when the corpus is done;
 *   2. records: per step a block of neurons gets its logit effects (ONNX, batched) and its
 *      record appended to the store file being written;
 *   3. finish: header and directory, fsync, rename into place; the checkpoint is deleted.
 * A build that finds a checkpoint of the same model, corpus and parameters resumes from it.
 *
 * Legend: L layers, N neurons per layer, G = L × N, C positions per context, B contexts per batch.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Decoder, DecoderSpec } from '../../shared/engine/decoder.js';
import { hookName } from '../../shared/engine/hooks.js';
import { ModelRunner, type Device } from '../../shared/engine/runner.js';
import { readCheckpoint, writeCheckpoint } from './checkpoint.js';
import type { CorpusContexts } from './contexts.js';
import { HISTOGRAM_HALF, IndexState, WINDOW, type IndexParams } from './index-state.js';
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

/** Where a model's index files live: `<indexDir>/<model key>/`. */
export function indexPaths(indexDir: string, modelKey: string, corpusKey: string) {
  const dir = join(indexDir, modelKey.slice(0, 16));
  const base = join(dir, corpusKey.slice(0, 16));
  return { dir, store: `${base}.nidx`, checkpoint: `${base}.checkpoint`, explanations: join(dir, 'explanations.json') };
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
  private writer: StoreWriter | null = null;
  private finished = false;
  /** Contexts the build started from (a resumed build's checkpoint). */
  readonly resumedFrom: number;

  private constructor(
    private readonly decoder: Decoder,
    private readonly vocabSize: number,
    readonly contexts: CorpusContexts,
    private readonly keys: { modelKey: string; corpusKey: string },
    readonly paths: ReturnType<typeof indexPaths>,
    private readonly runner: ModelRunner,
    readonly state: IndexState,
    readonly batchContexts: number,
    private readonly options: BuildOptions,
  ) {
    this.resumedFrom = state.contextsDone;
  }

  static async prepare(
    decoder: Decoder, vocabSize: number, contexts: CorpusContexts, modelKey: string, indexDir: string, options: BuildOptions = {},
  ): Promise<IndexBuild> {
    const { spec } = decoder;
    const params: IndexParams = {
      nLayers: spec.nLayers, dMlp: spec.dMlp, contextLength: contexts.contextLength, scoredStart: contexts.scoredStart,
      topK: options.topK ?? DEFAULT_TOP_K, sampleSize: options.sampleSize ?? DEFAULT_SAMPLE_SIZE,
    };
    const keys = { modelKey, corpusKey: contexts.key };
    const paths = indexPaths(indexDir, modelKey, contexts.key);
    const state = readCheckpoint(paths.checkpoint, { ...keys, params }) ?? new IndexState(params);
    const hooks = Array.from({ length: spec.nLayers }, (_, l) => hookName.mlpPost(l));
    const runner = await ModelRunner.create(decoder, { device: options.device, threads: options.threads, outputs: hooks, onNotice: () => {} });
    const batch = options.batchContexts ?? defaultBatchContexts(spec, contexts.contextLength);
    return new IndexBuild(decoder, vocabSize, contexts, keys, paths, runner, state, batch, options);
  }

  /** Tokens run so far and in all (contexts × C). */
  get done(): number {
    return this.state.contextsDone * this.contexts.contextLength;
  }

  get total(): number {
    return this.contexts.count * this.contexts.contextLength;
  }

  /** Neurons whose records are written (phase 2), of G. */
  get recordsDone(): number {
    return this.writer?.added ?? 0;
  }

  /** Runs one step; resolves false when the store is in place. */
  async step(): Promise<boolean> {
    if (this.finished) return false;
    if (this.state.contextsDone < this.contexts.count) {
      await this.batch();
      if (this.state.contextsDone === this.contexts.count) await this.checkpoint();
      return true;
    }
    const G = this.state.neurons;
    if (!this.writer) this.writer = await StoreWriter.create(this.paths.store, this.header());
    if (this.writer.added < G) {
      await this.records(this.writer);
      return true;
    }
    await this.writer.finish();
    rmSync(this.paths.checkpoint, { force: true });
    this.finished = true;
    await this.dispose();
    return false;
  }

  /** Saves the streaming state now (at a batch boundary: between steps; no step may run until
   * it resolves). */
  async checkpoint(): Promise<void> {
    await writeCheckpoint(this.paths.checkpoint, this.state, this.keys);
    this.lastCheckpoint = performance.now();
    this.batchesSinceCheckpoint = 0;
    this.checkpointed = true;
  }

  /** Releases the sessions and drops an unfinished store file; the checkpoint stays. */
  async dispose(): Promise<void> {
    if (this.writer && !this.finished) await this.writer.abort();
    this.writer = null;
    await this.effects?.dispose();
    this.effects = null;
    await this.runner.dispose().catch(() => {});
  }

  private async batch(): Promise<void> {
    const { state, contexts } = this;
    const C = contexts.contextLength;
    const first = state.contextsDone;
    const B = Math.min(this.batchContexts, contexts.count - first);
    const rows = Array.from({ length: B }, (_, b) => Array.from(contexts.tokens.subarray((first + b) * C, (first + b + 1) * C)));
    const hooks = Array.from({ length: state.params.nLayers }, (_, l) => hookName.mlpPost(l));
    const cache = await this.runner.runHooks(rows, hooks);
    for (let l = 0; l < hooks.length; l++) state.addLayer(l, cache[hooks[l]!]!.data, first, B); // [B, C, N]
    state.advance(B);
    this.batchesSinceCheckpoint++;
    const everyBatches = this.options.checkpointEveryBatches ?? 64;
    const everyMs = (this.options.checkpointEverySeconds ?? 30) * 1000;
    const due = !this.checkpointed || this.batchesSinceCheckpoint >= everyBatches || performance.now() - this.lastCheckpoint >= everyMs;
    if (due && state.contextsDone < contexts.count) await this.checkpoint(); // the last batch's comes from step()
  }

  private header(): StoreHeader {
    const { params } = this.state;
    const C = this.contexts.contextLength;
    return {
      modelKey: this.keys.modelKey, corpusKey: this.keys.corpusKey, corpus: this.contexts.name,
      nLayers: params.nLayers, dMlp: params.dMlp, contextLength: C, contexts: this.contexts.count,
      tokens: this.contexts.count * (C - params.scoredStart), topK: params.topK, sampleSize: params.sampleSize,
      quantiles: QUANTILES, tokenBytes: this.decoder.spec.vocabSize <= 65536 ? 2 : 4,
    };
  }

  /** Logit effects and records of the next block of neurons. */
  private async records(writer: StoreWriter): Promise<void> {
    this.effects ??= await BulkLogitEffects.create(this.decoder, this.vocabSize);
    const { dMlp: N } = this.state.params;
    const d = this.decoder.spec.dModel;
    const first = writer.added;
    const n = Math.min(this.effects.batch, this.state.neurons - first);
    const rows = new Float32Array(n * d);
    for (let r = 0; r < n; r++) foldedRow(this.decoder, Math.floor((first + r) / N), (first + r) % N, rows.subarray(r * d, (r + 1) * d));
    const effects = await this.effects.compute(rows, n, d);
    for (let r = 0; r < n; r++) await writer.add(this.neuron(first + r, effects[r]!));
  }

  private example(slots: IndexState['top'], slot: number): StoredExample {
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

  /** Neuron g's record from the streaming state. */
  private neuron(g: number, effects: TokenEffects): StoredNeuron {
    const { state } = this;
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
