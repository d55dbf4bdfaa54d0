/**
 * Transcoders as a model host holds them while serving (the server, or the in-browser engine): the loaded set and its ONNX runner, what
 * `model:info` says of them, and the live feature stream: from a run's cache (the frame hooks
 * plus each layer's resid_mid and ln2 scale), the active features of every layer at each
 * position, in the frame codec's sparse form (shared/frame-codec.ts). Only clients that asked
 * for features ('features:subscribe') cost the extra hooks and the transcoder forward.
 *
 * Legend: L layers, F features of a layer, T positions of the run, d model width.
 */
import type { Decoder, Tensor } from '../engine/decoder.js';
import type { ModelFiles } from '../engine/files.js';
import type { SparseFeatures } from '../frame-codec.js';
import type { TranscoderInfo } from '../protocol.js';
import { TranscoderRunner } from './forward.js';
import { transcoderHooks, transcoderInput } from './inputs.js';
import { loadTranscoderSet, type TranscoderSet } from './load.js';

export class HostedTranscoders {
  /** Hooks a feature frame needs on top of the neuron frame's. */
  readonly hooks: string[];

  private constructor(readonly set: TranscoderSet, readonly runner: TranscoderRunner, private readonly decoder: Decoder) {
    this.hooks = [...new Set(set.layers.flatMap((t) => transcoderHooks(set.inputHook, t.layer)))];
  }

  /**
   * Loads and checks the set in `files` (its folder: config and layer files) against the model
   * (ModelError naming file and tensor), and compiles its runner. `config`: as loadTranscoderSet's.
   */
  static async load(files: ModelFiles, decoder: Decoder, config?: string): Promise<HostedTranscoders> {
    return HostedTranscoders.create(loadTranscoderSet(files, decoder.spec, config), decoder);
  }

  /** Hosts a set already loaded and checked against `decoder`'s model. */
  static async create(set: TranscoderSet, decoder: Decoder): Promise<HostedTranscoders> {
    return new HostedTranscoders(set, await TranscoderRunner.create(set), decoder);
  }

  info(): TranscoderInfo {
    const { set } = this;
    return {
      source: set.source,
      modelName: set.modelName,
      featuresPerLayer: set.layers.map((t) => t.nFeatures),
      activation: set.activation.kind === 'topk' ? `topk (k = ${set.activation.k})` : set.activation.kind,
      inputHook: `blocks.{l}.${set.inputHook}`,
      outputHook: 'blocks.{l}.hook_mlp_out',
      skip: set.layers.every((t) => t.W_skip !== null),
    };
  }

  /** The active features of every layer at each of the cache's T positions. */
  async features(cache: Record<string, Tensor>): Promise<SparseFeatures[]> {
    const L = this.set.layers.length;
    const perLayer: { F: number; data: Float32Array }[] = [];
    for (const t of this.set.layers) {
      const x = transcoderInput(this.set.inputHook, this.decoder, cache, t.layer);
      const { features } = await this.runner.run(t.layer, x);
      perLayer.push({ F: t.nFeatures, data: features.data });
    }
    const T = perLayer[0]!.data.length / perLayer[0]!.F;
    const F = Math.max(...perLayer.map((p) => p.F));
    const out: SparseFeatures[] = [];
    for (let p = 0; p < T; p++) {
      const counts = new Uint32Array(L);
      const indices: number[] = [];
      const values: number[] = [];
      perLayer.forEach(({ F: Fl, data }, l) => {
        const row = data.subarray(p * Fl, (p + 1) * Fl);
        for (let i = 0; i < Fl; i++) {
          if (row[i]! > 0) {
            indices.push(i);
            values.push(row[i]!);
            counts[l]!++;
          }
        }
      });
      out.push({ featuresPerLayer: F, counts, indices: Uint32Array.from(indices), values: Float32Array.from(values) });
    }
    return out;
  }

  dispose(): Promise<void> {
    return this.runner.dispose();
  }
}
