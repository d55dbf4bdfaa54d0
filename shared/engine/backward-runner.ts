/**
 * Runs the compiled backward graphs (see onnx/compile-backward.ts) on ONNX Runtime:
 * vector-Jacobian products for N cotangent rows in one call, fed with a forward run's cache.
 * The session comes from the engine's one factory (session.ts): by default on the device, with
 * the threads and external-data rule, of the model's forward runner.
 */
import type { Decoder, DecoderSpec, Tensor } from './decoder.js';
import { backwardInputs, buildBackwardGraph, type BackwardMode } from './onnx/compile-backward.js';
import { graphInput } from './onnx/compile.js';
import { rotaryTables } from './rotary.js';
import { createSession, ortTensor, sessionSettingsFor, type Device, type EngineSession, type OrtTensor, type SessionSettings } from './session.js';

export class BackwardRunner {
  private constructor(
    readonly spec: DecoderSpec,
    readonly mode: BackwardMode,
    private readonly session: EngineSession,
    /** Where it runs (after any fallback to the CPU). */
    readonly device: Device,
  ) {}

  /** `settings` default to those of the decoder's forward runner (see session.ts). */
  static async create(decoder: Decoder, mode: BackwardMode, settings: SessionSettings = sessionSettingsFor(decoder)): Promise<BackwardRunner> {
    const { session, device } = await createSession(buildBackwardGraph(decoder, mode), settings);
    return new BackwardRunner(decoder.spec, mode, session, device);
  }

  /** The forward hooks `run` needs in `cache` (from a batch-1 forward run). */
  requiredHooks(): string[] {
    return backwardInputs(this.spec, this.mode);
  }

  /**
   * cache: forward hooks with batch 1; cotangents: `grad.ln_final.out` [N, T, d] and, in linear
   * mode, `inject.l` [N, T, d] (absent ones are zero). Returns the fetched outputs.
   */
  async run(cache: Record<string, Tensor>, cotangents: Record<string, Tensor>, fetch: string[]): Promise<Record<string, Tensor>> {
    const { nLayers, dModel: d } = this.spec;
    const gradFinal = cotangents['grad.ln_final.out'];
    if (!gradFinal) throw new Error('backward: the cotangent grad.ln_final.out is required');
    const [N, T] = gradFinal.shape as [number, number, number];
    const feeds: Record<string, OrtTensor> = {};
    for (const name of this.requiredHooks()) {
      const tensor = cache[name];
      if (!tensor) throw new Error(`backward: the forward hook ${name} is missing from the cache`);
      feeds[name] = ortTensor('float32', tensor.data, tensor.shape);
    }
    feeds['grad.ln_final.out'] = ortTensor('float32', gradFinal.data, gradFinal.shape);
    if (this.mode !== 'full') {
      for (let l = 0; l < nLayers; l++) {
        const inject = cotangents[`inject.${l}`];
        feeds[`inject.${l}`] = ortTensor('float32', inject?.data ?? new Float32Array(N * T * d), [N, T, d]);
      }
    } else if (this.spec.positional.kind === 'rotary') {
      const { cos, sin } = rotaryTables([Array.from({ length: T }, (_, t) => t)], this.spec.dHead, this.spec.positional.theta);
      feeds[graphInput.ropeCos] = ortTensor('float32', cos, [1, T, 1, this.spec.dHead]);
      feeds[graphInput.ropeSin] = ortTensor('float32', sin, [1, T, 1, this.spec.dHead]);
    }
    // The forward cache is the same on every call of one analysis: the worker keeps it.
    const outputs = await this.session.run(feeds, fetch, { reuse: this.requiredHooks() });
    const result: Record<string, Tensor> = {};
    for (const name of fetch) result[name] = { shape: [...outputs[name]!.dims], data: outputs[name]!.data as Float32Array };
    return result;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
