/**
 * Runs a compiled decoder on the registered ONNX Runtime (session.ts: onnxruntime-node on the server, -web in the page): full runs over a batch of
 * prompts and incremental decoding with a KV cache, returning `{ logits, cache }` with only
 * the hooks asked for, like TransformerLens's `run_with_cache`.
 *
 * Legend: B batch, T positions of this call, P past positions, V vocabulary.
 */
import { ModelError, type DecoderSpec, type Decoder, type Tensor } from './decoder.js';
import { hookName } from './hooks.js';
import { buildDecoderGraph, graphInput, hookShapes } from './onnx/compile.js';
import { rotaryTables } from './rotary.js';
import { createSession, ortTensor, rememberSessionSettings, type Device, type EngineSession, type OrtTensor, type SessionSettings } from './session.js';

export { devices, type Device } from './session.js';

export interface RunnerOptions extends SessionSettings {
  /** Hooks that accept an additive intervention (`RunOptions.deltas`): ablations, tests. */
  interventions?: string[];
  /** Compile only what these hooks need (no logits, no later layers): a runner for `runHooks`
   * alone, e.g. the corpus indexer's. ONNX Runtime computes every node of a graph whatever a
   * run fetches, so leaving the rest out of the graph is the only way not to pay for it. */
  outputs?: string[];
}

export interface RunOptions {
  /** Hook names to return (see hooks.ts); unknown names are an error. */
  hooks?: string[];
  /** Return logits for every position (default) or only each sequence's last one. */
  positions?: 'all' | 'last';
  /** Added to hooks compiled with `interventions` ([B, ...hook shape]); absent ones are zero. */
  deltas?: Record<string, Tensor>;
}

export interface RunResult {
  /** [B, T, V], or [B, 1, V] with positions 'last'. */
  logits: Tensor;
  /** Hook name → tensor with a leading batch dimension (shapes: hookShapes). */
  cache: Record<string, Tensor>;
}

function toTensor(value: OrtTensor): Tensor {
  return { shape: [...value.dims], data: value.data as Float32Array };
}

export class ModelRunner {
  /** Forward passes run so far (every run, generation step and analysis pass): rooms prove with it
   * that a presenter's action runs the model once, however many follow. */
  executions = 0;

  private constructor(
    readonly spec: DecoderSpec,
    readonly device: Device,
    private readonly session: EngineSession,
    private readonly hookNames: Set<string>,
    private readonly interventions: string[],
    /** False for a runner compiled with `outputs`: only `runHooks` works. */
    private readonly hasLogits: boolean,
  ) {}

  static async create(decoder: Decoder, options: RunnerOptions = {}): Promise<ModelRunner> {
    const interventions = options.interventions ?? [];
    const built = buildDecoderGraph(decoder, interventions);
    const graph = options.outputs ? built.keepOutputs(options.outputs) : built;
    const { session, device } = await createSession(graph, options);
    // The model's other graphs (backward, logit effects) run where this one ended up.
    rememberSessionSettings(decoder, {
      device, threads: options.threads, externalDataThresholdBytes: options.externalDataThresholdBytes, onNotice: options.onNotice,
    });
    const hooks = options.outputs ?? Object.keys(hookShapes(decoder.spec));
    return new ModelRunner(decoder.spec, device, session, new Set(hooks), interventions, options.outputs === undefined);
  }

  checkHooks(hooks: string[]): void {
    for (const name of hooks) {
      if (!this.hookNames.has(name)) {
        throw new ModelError(this.hasLogits
          ? `Unknown hook "${name}". Run the CLI's "info" command for this model's hook names.`
          : `Hook "${name}" was not compiled into this runner (it keeps ${this.hookNames.size} hooks).`);
      }
    }
  }

  /** Feeds for the positional scheme: learned position ids, or rotary cos/sin tables. */
  private positionFeeds(positions: number[][], T: number): Record<string, OrtTensor> {
    const B = positions.length;
    if (this.spec.positional.kind === 'learned') {
      const ids = new BigInt64Array(B * T);
      positions.forEach((row, b) => row.forEach((p, t) => { ids[b * T + t] = BigInt(p); }));
      return { [graphInput.positionIds]: ortTensor('int64', ids, [B, T]) };
    }
    const { cos, sin } = rotaryTables(positions, this.spec.dHead, this.spec.positional.theta);
    const shape = [B, T, 1, this.spec.dHead];
    return {
      [graphInput.ropeCos]: ortTensor('float32', cos, shape),
      [graphInput.ropeSin]: ortTensor('float32', sin, shape),
    };
  }

  /** Executes the graph for T new positions after P cached ones. */
  async execute(
    tokens: number[][], past: { keys: OrtTensor[]; values: OrtTensor[] } | null, pastLength: number,
    fetch: string[], deltas: Record<string, Tensor> = {},
  ): Promise<Record<string, OrtTensor>> {
    const { nLayers, nKvHeads: Hkv, dHead: dh, vocabSize, contextLength } = this.spec;
    const B = tokens.length;
    const T = Math.max(...tokens.map((row) => row.length));
    if (T === 0) throw new ModelError('No tokens to run.');
    if (pastLength + T > contextLength) {
      throw new ModelError(`${pastLength + T} positions exceed the model's context window of ${contextLength}.`);
    }
    const S = pastLength + T;
    // Shorter rows are right-padded: causal attention keeps the padding invisible to real positions.
    const ids = new BigInt64Array(B * T);
    tokens.forEach((row, b) => row.forEach((id, t) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new ModelError(`Token id ${id} is outside the vocabulary (0..${vocabSize - 1}).`);
      }
      ids[b * T + t] = BigInt(id);
    }));
    const bias = new Float32Array(B * T * S);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        for (let s = pastLength + t + 1; s < S; s++) bias[(b * T + t) * S + s] = -Infinity;
      }
    }
    const positions = tokens.map(() => Array.from({ length: T }, (_, t) => pastLength + t));
    const feeds: Record<string, OrtTensor> = {
      [graphInput.inputIds]: ortTensor('int64', ids, [B, T]),
      [graphInput.attentionBias]: ortTensor('float32', bias, [B, 1, T, S]),
      ...this.positionFeeds(positions, T),
    };
    const empty = ortTensor('float32', new Float32Array(0), [B, Hkv, 0, dh]);
    for (let l = 0; l < nLayers; l++) {
      feeds[graphInput.pastKey(l)] = past?.keys[l] ?? empty;
      feeds[graphInput.pastValue(l)] = past?.values[l] ?? empty;
    }
    const shapes = hookShapes(this.spec);
    for (const name of this.interventions) {
      const shape = shapes[name]!.map((dim) => (dim === 'B' ? B : dim === 'T' ? T : dim === 'S' ? S : dim)) as number[];
      const delta = deltas[name];
      if (delta && delta.data.length !== shape.reduce((a, b) => a * b, 1)) {
        throw new ModelError(`delta for ${name} has shape [${delta.shape}], expected [${shape}].`);
      }
      feeds[`delta.${name}`] = ortTensor('float32', delta?.data ?? new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
    }
    // A graph compiled with `outputs` may have lost inputs it no longer needs (later layers' caches).
    const inputs = new Set(this.session.inputNames);
    for (const name of Object.keys(feeds)) if (!inputs.has(name)) delete feeds[name];
    this.executions++;
    return this.session.run(feeds, fetch);
  }

  /** Runs a batch of prompts from position 0 (rows may differ in length: see `execute`). */
  async run(tokens: number[][], options: RunOptions = {}): Promise<RunResult> {
    const hooks = options.hooks ?? [];
    if (!this.hasLogits) throw new Error('runner: compiled with `outputs` (no logits); use runHooks');
    this.checkHooks(hooks);
    const outputs = await this.execute(tokens, null, 0, [hookName.logits, ...hooks.filter((h) => h !== hookName.logits)], options.deltas);
    const logits = toTensor(outputs[hookName.logits]!);
    const cache: Record<string, Tensor> = {};
    for (const name of hooks) cache[name] = toTensor(outputs[name]!);
    return { logits: options.positions === 'last' ? lastPositions(logits, tokens.map((r) => r.length)) : logits, cache };
  }

  /** Only the hooks asked for, without fetching or copying logits ([B, T, V] can dwarf them). */
  async runHooks(tokens: number[][], hooks: string[]): Promise<Record<string, Tensor>> {
    this.checkHooks(hooks);
    const outputs = await this.execute(tokens, null, 0, hooks);
    const cache: Record<string, Tensor> = {};
    for (const name of hooks) cache[name] = toTensor(outputs[name]!);
    return cache;
  }

  /** Starts incremental decoding of one sequence with a KV cache. */
  incremental(): IncrementalRun {
    if (!this.hasLogits) throw new Error('runner: compiled with `outputs` (no logits); use runHooks');
    return new IncrementalRun(this);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/** Each row's logits at its own last position: [B, T, V] → [B, 1, V]. */
export function lastPositions(logits: Tensor, lengths: number[]): Tensor {
  const [B, T, V] = logits.shape as [number, number, number];
  const data = new Float32Array(B * V);
  for (let b = 0; b < B; b++) data.set(logits.data.subarray((b * T + lengths[b]! - 1) * V, (b * T + lengths[b]!) * V), b * V);
  return { shape: [B, 1, V], data };
}

/** One sequence decoded position by position; each feed costs O(new × past), not a full re-run. */
export class IncrementalRun {
  private keys: OrtTensor[] | null = null;
  private values: OrtTensor[] | null = null;
  length = 0;

  constructor(private readonly runner: ModelRunner) {}

  /** Appends tokens; returns logits [1, n, V] and hooks for the new positions only. */
  async feed(tokens: number[], options: { hooks?: string[] } = {}): Promise<RunResult> {
    const { nLayers } = this.runner.spec;
    const hooks = options.hooks ?? [];
    this.runner.checkHooks(hooks);
    const presents: string[] = [];
    for (let l = 0; l < nLayers; l++) presents.push(graphInput.presentKey(l), graphInput.presentValue(l));
    const past = this.keys && this.values ? { keys: this.keys, values: this.values } : null;
    const outputs = await this.runner.execute([tokens], past, this.length,
      [hookName.logits, ...hooks.filter((h) => h !== hookName.logits), ...presents]);
    this.keys = Array.from({ length: nLayers }, (_, l) => outputs[graphInput.presentKey(l)]!);
    this.values = Array.from({ length: nLayers }, (_, l) => outputs[graphInput.presentValue(l)]!);
    this.length += tokens.length;
    const cache: Record<string, Tensor> = {};
    for (const name of hooks) cache[name] = toTensor(outputs[name]!);
    return { logits: toTensor(outputs[hookName.logits]!), cache };
  }
}
