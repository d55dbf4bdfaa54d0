/**
 * What every analysis needs: the loaded model, its forward runner, and the backward runners
 * (compiled on first use or by `warm`, then kept; a compile that failed is tried again).
 */
import type { LoadedModel } from '../engine/decoder.js';
import { BackwardRunner } from '../engine/backward-runner.js';
import type { BackwardMode } from '../engine/onnx/compile-backward.js';
import type { ModelRunner } from '../engine/runner.js';

export class AnalysisContext {
  private readonly backward = new Map<BackwardMode, Promise<BackwardRunner>>();

  constructor(readonly model: LoadedModel, readonly runner: ModelRunner) {}

  backwardRunner(mode: BackwardMode): Promise<BackwardRunner> {
    let runner = this.backward.get(mode);
    if (!runner) {
      runner = BackwardRunner.create(this.model.decoder, mode);
      this.backward.set(mode, runner);
      runner.catch(() => this.backward.delete(mode));
    }
    return runner;
  }

  /** Compiles the backward graphs of Explain ('full') and Trace ('linear') ahead of use. */
  async warm(): Promise<void> {
    await this.backwardRunner('full');
    await this.backwardRunner('linear');
  }

  async dispose(): Promise<void> {
    for (const runner of this.backward.values()) await (await runner).dispose();
  }
}
