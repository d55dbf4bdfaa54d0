/**
 * Issue 13 gap 3: total effects of transcoder features on Δ, a_{f,p} (W_dec[f] · ∂Δ/∂mlp_out_l[p])
 * at every position, listed with the effects answer beside the direct ones. Checked against an
 * independent computation: the gradient the new backward output gives at each MLP's output, read
 * back through W_out, must equal the existing (already tested) gradient at the neurons,
 * ∂Δ/∂hook_post = W_out · ∂Δ/∂mlp_out (W_out has full column rank, so this pins it down); each
 * listed value is recomputed here from the transcoder's own forward; and the strongest are checked
 * by finite differences of the real forward (the feature's write scaled by 1 ± ε at hook_mlp_out).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { io as connect, type Socket } from 'socket.io-client';
import { startServer } from '../../../server/main.js';
import { AnalysisContext } from '../../../shared/analysis/context.js';
import { logitDirection } from '../../../shared/analysis/logit-direction.js';
import { hookName } from '../../../shared/engine/hooks.js';
import { backwardName } from '../../../shared/engine/onnx/compile-backward.js';
import { transcoderHooks, transcoderInput } from '../../../shared/transcoders/inputs.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/protocol.js';

const model = fileURLToPath(new URL('../../../assets/models/brown-gpt2/', import.meta.url));
type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
let server: Awaited<ReturnType<typeof startServer>>;
let socket: Client;
const question = { prompt: ' the apple fell from the', target: ' tree', distractor: ' sky' };

beforeAll(async () => {
  server = await startServer({ model, port: 0, host: '127.0.0.1', device: 'cpu', https: false, serveClient: false, index: false, log: () => {} });
  socket = connect(server.url, { transports: ['websocket'], forceNew: true });
  await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject); });
}, 120_000);

afterAll(async () => {
  socket?.disconnect();
  await server?.close();
});

describe('total effects of transcoder features', () => {
  it('lists activation × gradient at every position, equal to an independent gradient', async () => {
    const response = await socket.emitWithAck('analysis:effects', question);
    if (!response.ok) throw new Error(response.error.message);
    const total = response.value.features!.total!;
    const T = response.value.tokens.length;
    expect(total.length).toBeGreaterThan(10);
    expect(new Set(total.map((f) => f.pos)).size).toBeGreaterThan(1); // not only the last position
    const raising = total.filter((f) => f.value > 0);
    const lowering = total.filter((f) => f.value < 0);
    expect(raising.length).toBeGreaterThan(0);
    expect(lowering.length).toBeGreaterThan(0);
    for (let i = 1; i < raising.length; i++) expect(raising[i]!.value).toBeLessThanOrEqual(raising[i - 1]!.value);

    // Independently: the real backward from Δ, its gradients at the neurons and at resid_post.
    const { host } = server;
    const { decoder } = host.model;
    const { dModel: d, dMlp: m } = decoder.spec;
    const set = host.transcoders!.set;
    const tokens = response.value.tokens.map((t) => t.id);
    const P = T - 1;
    const context = new AnalysisContext(host.model, host.runner);
    const backward = await context.backwardRunner('full');
    const hooks = [...new Set([hookName.lnFinalScale, ...backward.requiredHooks(), ...set.layers.flatMap((t) => transcoderHooks(set.inputHook, t.layer))])];
    const { cache } = await host.runner.run([tokens], { hooks });
    const { u } = logitDirection(decoder, response.value.target.id, response.value.distractor.id, cache[hookName.lnFinalScale]!.data[P]!);
    const gradFinal = new Float32Array(T * d);
    gradFinal.set(u, P * d);
    const L = decoder.spec.nLayers;
    const fetch = Array.from({ length: L }, (_, l) => [backwardName.gradResidPost(l), backwardName.gradMlpPost(l)]).flat();
    const grads = await backward.run(cache, { [backwardName.gradFinal]: { shape: [1, T, d], data: gradFinal } }, fetch);
    for (let l = 0; l < L; l++) {
      const W_out = decoder.weights[`blocks.${l}.mlp.W_out`]!.data; // [m, d]
      const gResid = grads[backwardName.gradResidPost(l)]!.data;
      const gPost = grads[backwardName.gradMlpPost(l)]!.data;
      let worst = 0;
      let scale = 0;
      for (let p = 0; p < T; p++) {
        for (let i = 0; i < m; i++) {
          let v = 0;
          for (let j = 0; j < d; j++) v += W_out[i * d + j]! * gResid[p * d + j]!;
          worst = Math.max(worst, Math.abs(v - gPost[p * m + i]!));
          scale = Math.max(scale, Math.abs(gPost[p * m + i]!));
        }
      }
      expect(scale).toBeGreaterThan(0);
      expect(worst).toBeLessThan(1e-4 * scale + 1e-6);
    }
    // Each listed total effect recomputed: the layer's transcoder forward × W_dec[f] · gradient.
    for (const f of [...raising.slice(0, 5), ...lowering.slice(0, 5)]) {
      const t = set.layers[f.layer]!;
      const { features } = await host.transcoders!.runner.run(f.layer, transcoderInput(set.inputHook, decoder, cache, f.layer));
      const a = features.data[f.pos * t.nFeatures + f.index]!;
      const gResid = grads[backwardName.gradResidPost(f.layer)]!.data;
      let w = 0;
      for (let j = 0; j < d; j++) w += t.W_dec.data[f.index * d + j]! * gResid[f.pos * d + j]!;
      expect(f.activation).toBeCloseTo(a, 4);
      expect(Math.abs(f.value - a * w)).toBeLessThan(1e-4 * Math.max(1, Math.abs(f.value)));
    }
    // Finite differences on the real forward: scale the feature's write a W_dec[f] at its layer's
    // MLP output and position by 1 ± ε (an intervention on hook_mlp_out) and read Δ.
    const { ModelRunner } = await import('../../../shared/engine/runner.js');
    const forward = await ModelRunner.create(decoder, { interventions: set.layers.map((t) => hookName.mlpOut(t.layer)) });
    const V = decoder.spec.vocabSize;
    const eps = 1e-2;
    for (const f of [...raising.slice(0, 4), ...lowering.slice(0, 4)]) {
      const W_dec = set.layers[f.layer]!.W_dec.data;
      const delta = new Float32Array(2 * T * d);
      for (let j = 0; j < d; j++) {
        delta[f.pos * d + j] = eps * f.activation * W_dec[f.index * d + j]!;
        delta[T * d + f.pos * d + j] = -eps * f.activation * W_dec[f.index * d + j]!;
      }
      const { logits } = await forward.run([tokens, tokens], { positions: 'last', deltas: { [hookName.mlpOut(f.layer)]: { shape: [2, T, d], data: delta } } });
      const diff = (row: number) => logits.data[row * V + response.value.target.id]! - logits.data[row * V + response.value.distractor.id]!;
      const numeric = (diff(0) - diff(1)) / (2 * eps);
      expect(Math.abs(numeric - f.value)).toBeLessThan(0.03 * Math.abs(f.value) + 2e-3);
    }
    await forward.dispose();
    // At the last position, a feature's total effect differs from its direct effect only through
    // ln_final's varying scale and later layers; both lists name the same strongest feature's sign.
    const direct = response.value.features!.direct;
    const top = direct[0]!;
    const same = total.find((f) => f.layer === top.layer && f.index === top.index && f.pos === P);
    if (same) expect(Math.sign(same.value)).toBe(Math.sign(top.value));
    await context.dispose();
  }, 300_000);
});
