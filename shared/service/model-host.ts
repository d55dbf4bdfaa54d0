/**
 * The loaded model as the transport serves it: its info for the client's layout, and the
 * conversion of engine results (hooks) into wire frames and top-k predictions.
 *
 * Legend: L layers, N neurons per layer (d_mlp), H heads, T positions, V vocabulary.
 */
import type { LoadedModel, Tensor } from '../engine/decoder.js';
import { hookName } from '../engine/hooks.js';
import type { ModelRunner } from '../engine/runner.js';
import { encodeFrame, type SparseFeatures } from '../frame-codec.js';
import type { HostedTranscoders } from '../transcoders/live.js';
import type { ModelInfo, Prediction, TokenInfo } from '../protocol.js';

export class ModelHost {
  /** Where the model runs, for model:info, when not on the server (the in-browser engine sets it). */
  runtime: { describe(): string; notice: string | null; load?: string } | null = null;
  /** Hooks a frame needs: every layer's MLP activations and attention pattern. */
  readonly frameHooks: string[];
  /** Hooks of a frame with live features: the frame's and the transcoders' inputs. */
  readonly featureFrameHooks: string[];

  /** `transcoders`: the loaded transcoder set (trace over features, live features), or null. */
  constructor(readonly name: string, readonly model: LoadedModel, readonly runner: ModelRunner, readonly transcoders: HostedTranscoders | null = null) {
    const { nLayers } = model.decoder.spec;
    this.frameHooks = Array.from({ length: nLayers }, (_, l) => [hookName.mlpPost(l), hookName.pattern(l)]).flat();
    this.featureFrameHooks = [...new Set([...this.frameHooks, ...(transcoders?.hooks ?? [])])];
  }

  /** Hooks a run needs for a client that does (or does not) take live features. */
  hooksFor(features: boolean | undefined): string[] {
    return features && this.transcoders ? this.featureFrameHooks : this.frameHooks;
  }

  /** Live features of every position of a run's cache, when the client takes them and there are transcoders. */
  async liveFeatures(cache: Record<string, Tensor>, features: boolean | undefined): Promise<SparseFeatures[] | null> {
    return features && this.transcoders ? this.transcoders.features(cache) : null;
  }

  info(): ModelInfo {
    const { spec } = this.model.decoder;
    return {
      name: this.name,
      architecture: spec.architecture,
      nLayers: spec.nLayers,
      neuronsPerLayer: spec.dMlp,
      nHeads: spec.nHeads,
      dModel: spec.dModel,
      vocabSize: spec.vocabSize,
      contextLength: spec.contextLength,
      neuronHook: 'blocks.{l}.mlp.hook_post',
      transcoders: this.transcoders?.info() ?? null,
      ...(this.runtime ? { runtime: this.runtime.describe(), runtimeNotice: this.runtime.notice, runtimeLoad: this.runtime.load } : {}),
    };
  }

  token(id: number): TokenInfo {
    return { id, text: this.model.tokenizer.tokenString(id) };
  }

  /**
   * The frame of row-local position `t` of a run whose hooks cover positions
   * [offset, offset + T) (an incremental feed has offset = tokens already cached).
   */
  frame(cache: Record<string, Tensor>, t: number, offset: number, tokenId: number, features?: SparseFeatures | null): Uint8Array {
    const { nLayers: L, dMlp: N, nHeads: H } = this.model.decoder.spec;
    const neurons = new Float32Array(L * N);
    const position = offset + t;
    const S = position + 1;
    const attention = new Float32Array(L * H * S);
    for (let l = 0; l < L; l++) {
      const post = cache[hookName.mlpPost(l)]!; // [1, T, N]
      neurons.set(post.data.subarray(t * N, (t + 1) * N), l * N);
      const pattern = cache[hookName.pattern(l)]!; // [1, H, T, offset + T]
      const [, , T, keys] = pattern.shape as [number, number, number, number];
      for (let h = 0; h < H; h++) {
        attention.set(pattern.data.subarray((h * T + t) * keys, (h * T + t) * keys + S), (l * H + h) * S);
      }
    }
    return encodeFrame({ position, tokenId, nLayers: L, neuronsPerLayer: N, nHeads: H, neurons, attention, features });
  }

  /** Top-k next-token predictions from one position's logits [V]. */
  predictions(logits: Float32Array, k: number): Prediction[] {
    let max = -Infinity;
    for (const v of logits) max = Math.max(max, v);
    let sum = 0;
    for (const v of logits) sum += Math.exp(v - max);
    const top: number[] = [];
    for (let i = 0; i < logits.length; i++) {
      if (top.length < k || logits[i]! > logits[top[top.length - 1]!]!) {
        let at = top.length;
        while (at > 0 && logits[top[at - 1]!]! < logits[i]!) at--;
        top.splice(at, 0, i);
        if (top.length > k) top.pop();
      }
    }
    return top.map((id) => ({ id, text: this.model.tokenizer.tokenString(id), prob: Math.exp(logits[id]! - max) / sum, logit: logits[id]! }));
  }
}
