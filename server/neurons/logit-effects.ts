/**
 * What a neuron writes, per unit of activation: its output weights W_out[i, :] read through the
 * unembedding with the final normalisation folded in. LayerNorm subtracts the mean over d before
 * scaling, so the row is centred and then multiplied by γ (ln_final.w); RMSNorm only scales, so
 * the row is multiplied by γ. Biases (β, b_U) add the same to every neuron and are left out.
 *   effect[v] = Σ_j fold(W_out[i, :])[j] · W_U[j, v]
 * The top promoted (largest) and suppressed (smallest) tokens come from one small ONNX graph
 * (MatMul then TopK, batched over neurons): in bulk at index time, and for one neuron at a time
 * when no index exists yet (the server's path: it runs on ONNX Runtime's threads, not the event
 * loop, and reads the unembedding as an input instead of holding a second copy). Plain loops
 * (`logitEffectsOf`) are the independent reference the tests compare with.
 *
 * Legend: d width, V tokens the tokenizer knows (padded model vocabulary rows are left out),
 * n neurons per call, K effects kept on each side.
 */
import * as ort from 'onnxruntime-node';
import type { Decoder } from '../../shared/engine/decoder.js';
import { LOGIT_EFFECTS, extremes, type TokenEffects } from '../../shared/neuron-logit-effects.js';
import { GraphBuilder, attr } from '../../shared/engine/onnx/graph-builder.js';
import { DataType } from '../../shared/engine/onnx/proto.js';
import { createSession, sessionSettingsFor, type EngineSession, type SessionSettings } from '../engine/session.js';

// The plain-loop half lives in shared/ (the in-browser engine answers neuron:details with it).
export { LOGIT_EFFECTS, extremes, foldRow, foldedEffects, foldedRow, logitEffectsOf, type TokenEffects } from '../../shared/neuron-logit-effects.js';

/** Batched effects on ONNX Runtime: rows [n, d] → top and bottom K per row. */
export class BulkLogitEffects {
  private constructor(
    private readonly session: EngineSession, readonly batch: number, private readonly K: number,
    /** The unembedding fed on every call, when it is an input rather than part of the graph. */
    private readonly unembedInput: ort.Tensor | null,
  ) {}

  /** `batch` rows per call, sized so the [n, V] product stays near 16 MB. With `unembedAsInput`
   * the graph holds no copy of W_U: it is fed on every call (the decoder's own array, or its
   * tokenizer's columns when the model pads its vocabulary). The session comes from the engine's
   * factory, by default with the settings of the decoder's forward runner (device, threads, and
   * external data for an unembedding past protobuf's limit). */
  static async create(
    decoder: Decoder, vocabSize: number, K = LOGIT_EFFECTS,
    { unembedAsInput = false, session: asked }: { unembedAsInput?: boolean; session?: SessionSettings } = {},
  ): Promise<BulkLogitEffects> {
    // W_U fed on every call stays on the CPU, where feeding it is free: on a GPU each call would
    // copy the whole unembedding (150 MB for GPT-2 small) to the device for one neuron.
    // It also stays on this thread: a worker thread would need its own copy of W_U.
    const settings = asked ?? (unembedAsInput ? { ...sessionSettingsFor(decoder), device: 'cpu' as const, inThread: false } : sessionSettingsFor(decoder));
    const { dModel: d, vocabSize: modelV } = decoder.spec;
    const V = Math.min(vocabSize, modelV);
    const W_U = decoder.weights['unembed.W_U']!.data;
    let unembed = W_U;
    if (V < modelV) { // keep the tokenizer's columns only
      unembed = new Float32Array(d * V);
      for (let j = 0; j < d; j++) unembed.set(W_U.subarray(j * modelV, j * modelV + V), j * V);
    }
    const g = new GraphBuilder(17);
    const rows = g.input('rows', DataType.FLOAT, ['n', d]);
    const W = unembedAsInput ? g.input('W_U', DataType.FLOAT, [d, V]) : g.weight('W_U', { shape: [d, V], data: unembed });
    const effects = g.op('MatMul', [rows, W]); // [n, V]
    const kept = Math.min(K, V);
    const k = g.int64s([kept]);
    const [topValues, topIds] = g.opMulti('TopK', [effects, k], 2, [attr.int('axis', -1), attr.int('largest', 1), attr.int('sorted', 1)]);
    const [bottomValues, bottomIds] = g.opMulti('TopK', [effects, k], 2, [attr.int('axis', -1), attr.int('largest', 0), attr.int('sorted', 1)]);
    g.output(topValues!, 'top_values', ['n', kept]);
    g.output(topIds!, 'top_ids', ['n', kept], DataType.INT64);
    g.output(bottomValues!, 'bottom_values', ['n', kept]);
    g.output(bottomIds!, 'bottom_ids', ['n', kept], DataType.INT64);
    const { session } = await createSession(g, settings);
    const input = unembedAsInput ? new ort.Tensor('float32', unembed, [d, V]) : null;
    return new BulkLogitEffects(session, Math.max(1, Math.min(1024, Math.floor((4 << 20) / V))), kept, input);
  }

  /** Effects of n neurons whose folded rows are `rows` [n, d]. */
  async compute(rows: Float32Array, n: number, d: number): Promise<TokenEffects[]> {
    const feeds: Record<string, ort.Tensor> = { rows: new ort.Tensor('float32', rows.subarray(0, n * d), [n, d]) };
    if (this.unembedInput) feeds.W_U = this.unembedInput;
    const out = await this.session.run(feeds);
    const K = this.K;
    const topValues = out.top_values!.data as Float32Array;
    const topIds = out.top_ids!.data as BigInt64Array;
    const bottomValues = out.bottom_values!.data as Float32Array;
    const bottomIds = out.bottom_ids!.data as BigInt64Array;
    return Array.from({ length: n }, (_, r) => ({
      promoted: Array.from({ length: K }, (_, j) => ({ token: Number(topIds[r * K + j]), value: topValues[r * K + j]! })),
      suppressed: Array.from({ length: K }, (_, j) => ({ token: Number(bottomIds[r * K + j]), value: bottomValues[r * K + j]! })),
    }));
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
