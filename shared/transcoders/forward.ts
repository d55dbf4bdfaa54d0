/**
 * The transcoder forward on ONNX Runtime: one small graph per layer, run on the CPU provider
 * like the engine's other graphs:
 *   z = x W_encᵀ + b_enc                         pre-activations   [N, F]
 *   f = σ(z)   ReLU | JumpReLU z·[z > θ] | TopK (k largest z kept, then ReLU)   features [N, F]
 *   skip = x W_skipᵀ                              (skip transcoders) [N, d]
 *   ŷ = f W_dec + b_dec + skip                    reconstruction    [N, d]
 * x is the layer's transcoder input (see inputs.ts), N any number of token positions.
 * Sessions come from the engine's one factory (engine/session.ts): a layer whose weights pass
 * protobuf's 2 GB cap (e.g. 131k-feature Llama transcoders) goes through an external-data file,
 * and every layer runs in a worker thread, off the event loop.
 *
 * Legend: N positions, F features, d model width.
 */
import { ModelError, type Tensor } from '../engine/decoder.js';
import { attr, GraphBuilder } from '../engine/onnx/graph-builder.js';
import { DataType } from '../engine/onnx/proto.js';
import { createSession, ortTensor, type EngineSession, type OrtTensor } from '../engine/session.js';
import type { LayerTranscoder, TranscoderActivation, TranscoderSet } from './load.js';

export interface TranscoderOutput {
  features: Tensor; // [N, F]
  reconstruction: Tensor; // [N, d], skip included
  skip: Tensor | null; // [N, d], null without a skip connection
}

const OPSET = 17;

/** The graph of one layer's transcoder: input `x` [N, d]; outputs `features`, `reconstruction`, `skip`. */
export function buildTranscoderGraph(t: LayerTranscoder, activation: TranscoderActivation): GraphBuilder {
  const g = new GraphBuilder(OPSET);
  const d = t.b_dec.shape[0]!;
  const F = t.nFeatures;
  const x = g.input('x', DataType.FLOAT, ['N', d]);
  const transB = [attr.int('transB', 1)];
  const pre = g.op('Gemm', [x, g.weight('W_enc', t.W_enc), g.weight('b_enc', t.b_enc)], transB); // [N, F]
  let features: string;
  if (activation.kind === 'relu') {
    features = g.op('Relu', [pre]);
  } else if (activation.kind === 'jumprelu') {
    if (!t.threshold) throw new ModelError(`${t.path}: JumpReLU needs a "threshold" tensor`);
    const above = g.op('Greater', [pre, g.weight('threshold', t.threshold)]);
    features = g.op('Where', [above, pre, g.scalar(0)]);
  } else {
    const [values, indices] = g.opMulti('TopK', [pre, g.int64s([activation.k])], 2, [attr.int('axis', -1), attr.int('largest', 1), attr.int('sorted', 0)]);
    const zeros = g.op('ConstantOfShape', [g.op('Shape', [pre])]); // float 0 by default
    features = g.op('ScatterElements', [zeros, indices!, g.op('Relu', [values!])], [attr.int('axis', -1)]);
  }
  g.output(features, 'features', ['N', F]);
  let reconstruction = g.op('Add', [g.op('MatMul', [features, g.weight('W_dec', t.W_dec)]), g.weight('b_dec', t.b_dec)]);
  if (t.W_skip) {
    const skip = g.op('Gemm', [x, g.weight('W_skip', t.W_skip)], transB); // [N, d]
    g.output(skip, 'skip', ['N', d]);
    reconstruction = g.op('Add', [reconstruction, skip]);
  }
  g.output(reconstruction, 'reconstruction', ['N', d]);
  return g;
}

export class TranscoderRunner {
  private constructor(readonly set: TranscoderSet, private readonly sessions: EngineSession[]) {}

  static async create(set: TranscoderSet): Promise<TranscoderRunner> {
    const sessions: EngineSession[] = [];
    try {
      for (const layer of set.layers) sessions.push((await createSession(buildTranscoderGraph(layer, set.activation), { device: 'cpu' })).session);
    } catch (error) {
      await Promise.all(sessions.map((s) => s.release()));
      throw error;
    }
    return new TranscoderRunner(set, sessions);
  }

  /** Features, reconstruction and skip of layer `layer` for inputs x [N, d]. */
  async run(layer: number, x: Tensor): Promise<TranscoderOutput> {
    const session = this.sessions[layer];
    if (!session) throw new ModelError(`No transcoder for layer ${layer} (the set has ${this.sessions.length}).`);
    const d = this.set.dModel;
    if (x.shape.length !== 2 || x.shape[1] !== d) throw new ModelError(`transcoder input for layer ${layer} has shape [${x.shape}], expected [N, ${d}]`);
    const out = await session.run({ x: ortTensor('float32', x.data, x.shape) });
    const toTensor = (v: OrtTensor): Tensor => ({ shape: [...v.dims], data: v.data as Float32Array });
    return {
      features: toTensor(out.features!),
      reconstruction: toTensor(out.reconstruction!),
      skip: out.skip ? toTensor(out.skip) : null,
    };
  }

  async dispose(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.release()));
  }
}
