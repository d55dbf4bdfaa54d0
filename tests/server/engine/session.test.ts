/**
 * The one session factory (server/engine/session.ts) and what the backward graph puts in it:
 *  - the backward graph holds every forward weight once, as the decoder's own bytes (no
 *    transposed copies), in both modes and both families;
 *  - the protobuf size estimate is never below the encoded size and close to it, and it sends a
 *    graph past protobuf's 2 GB limit (a GPT-2-large-shaped backward graph, weights never
 *    touched) to external data, and a GPT-2-small one not;
 *  - a backward graph with its weights in an external-data file gives the same numbers;
 *  - the backward runner and the bulk logit effects run on the device of the model's forward
 *    runner, and fall back to the CPU with the same one-line notice.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Decoder, DecoderSpec, Tensor, Weights } from '../../../shared/engine/decoder.js';
import { allHookNames } from '../../../shared/engine/hooks.js';
import { BackwardRunner } from '../../../shared/engine/backward-runner.js';
import { backwardName, buildBackwardGraph, type BackwardMode } from '../../../shared/engine/onnx/compile-backward.js';
import { buildDecoderGraph } from '../../../shared/engine/onnx/compile.js';
import { encodeModel } from '../../../shared/engine/onnx/proto.js';
import { gpt2SmallSpec, gpt2Spec, llamaSpec, randomDecoder } from '../../../shared/engine/random-decoder.js';
import { ModelRunner } from '../../../shared/engine/runner.js';
import { needsExternalData, PROTOBUF_LIMIT, protoBytesEstimate, sessionSettingsFor } from '../../../server/engine/session.js';
import { BulkLogitEffects } from '../../../server/neurons/logit-effects.js';
import { seededRandom } from '../../../shared/engine/generate.js';

const families: Record<string, Decoder> = {
  gpt2: randomDecoder(gpt2Spec({ nLayers: 2, dModel: 32, nHeads: 4, vocabSize: 61, contextLength: 32 }), 31, 0.25),
  llama: randomDecoder(llamaSpec({ nLayers: 2, dModel: 32, nHeads: 4, nKvHeads: 2, dMlp: 40, vocabSize: 61, contextLength: 32 }), 32, 0.25),
};
const modes: BackwardMode[] = ['full', 'linear'];
const prompt = [3, 14, 15, 9, 26, 5];

/** Every GPT-2 weight of `spec` as zero-filled arrays that are never written: the pages stay
 * unallocated, so a graph of gigabytes can be built and measured without the memory. */
function untouchedGpt2(spec: DecoderSpec): Decoder {
  const { dModel: d, dMlp: m, vocabSize: V, contextLength: C } = spec;
  const weights: Weights = {};
  const add = (name: string, shape: number[]) => { weights[name] = { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }; };
  add('embed.W_E', [V, d]); add('pos_embed.W_pos', [C, d]); add('unembed.W_U', [d, V]);
  add('ln_final.w', [d]); add('ln_final.b', [d]);
  for (let l = 0; l < spec.nLayers; l++) {
    const b = `blocks.${l}`;
    for (const n of ['ln1', 'ln2']) { add(`${b}.${n}.w`, [d]); add(`${b}.${n}.b`, [d]); }
    for (const w of ['W_Q', 'W_K', 'W_V', 'W_O']) add(`${b}.attn.${w}`, [d, d]);
    for (const w of ['b_Q', 'b_K', 'b_V', 'b_O']) add(`${b}.attn.${w}`, [d]);
    add(`${b}.mlp.W_in`, [d, m]); add(`${b}.mlp.W_out`, [m, d]); add(`${b}.mlp.b_in`, [m]); add(`${b}.mlp.b_out`, [d]);
  }
  return { spec, weights, source: 'untouched zeros' };
}

/** A forward run's cache and random cotangents for `mode` (N rows). */
async function backwardFeeds(decoder: Decoder, mode: BackwardMode, N = 3) {
  const forward = await ModelRunner.create(decoder);
  const { cache } = await forward.run([prompt], { hooks: allHookNames(decoder.spec) });
  await forward.dispose();
  const random = seededRandom(7);
  const T = prompt.length;
  const d = decoder.spec.dModel;
  const cotangent = (): Tensor => ({ shape: [N, T, d], data: Float32Array.from({ length: N * T * d }, () => random() - 0.5) });
  const cotangents: Record<string, Tensor> = { [backwardName.gradFinal]: cotangent() };
  if (mode === 'linear') for (let l = 0; l < decoder.spec.nLayers; l++) cotangents[backwardName.inject(l)] = cotangent();
  const fetch = mode === 'linear'
    ? [backwardName.constants, backwardName.edgesEmbed, backwardName.edges(0), backwardName.gradResidPost(0)]
    : [backwardName.gradEmbed, backwardName.gradZ(0), backwardName.gradMlpPost(1)];
  return { cache, cotangents, fetch };
}

describe.each(Object.entries(families))('backward graph of a random %s-style model', (_family, decoder) => {
  it.each(modes)('%s mode holds each forward weight once, as the decoder\'s own bytes', (mode) => {
    const graph = buildBackwardGraph(decoder, mode);
    const names = graph.initializers.map((t) => t.name);
    expect(new Set(names).size, 'initializer names are unique').toBe(names.length);
    let matrices = 0;
    for (const [name, bytes] of graph.initializerData) {
      if (name.endsWith('.value_offset')) continue; // β₁ W_V + b_V, a vector computed at build time
      const weight = decoder.weights[name];
      expect(weight, `${name} is a weight of the decoder`).toBeDefined();
      expect(bytes.buffer === weight!.data.buffer && bytes.byteOffset === weight!.data.byteOffset && bytes.byteLength === weight!.data.byteLength,
        `${name} shares the decoder's bytes`).toBe(true);
      if (weight!.shape.length === 2) matrices++;
    }
    const { nLayers: L } = decoder.spec;
    const perLayer = mode === 'linear' ? 3 : 4 + (decoder.spec.mlp.kind === 'gated' ? 3 : 2); // W_O, W_V, W_out (+ W_Q, W_K, W_in, W_gate)
    expect(matrices).toBe(L * perLayer);
  });

  it.each(modes)('%s mode gives the same numbers with its weights in an external-data file', async (mode) => {
    const { cache, cotangents, fetch } = await backwardFeeds(decoder, mode);
    const inMemory = await BackwardRunner.create(decoder, mode, { externalDataThresholdBytes: PROTOBUF_LIMIT });
    const external = await BackwardRunner.create(decoder, mode, { externalDataThresholdBytes: 0 });
    const a = await inMemory.run(cache, cotangents, fetch);
    const b = await external.run(cache, cotangents, fetch);
    for (const name of fetch) {
      expect(b[name]!.shape).toEqual(a[name]!.shape);
      expect(Array.from(b[name]!.data), name).toEqual(Array.from(a[name]!.data));
    }
    await inMemory.dispose();
    await external.dispose();
  });
});

describe('protobuf size estimate', () => {
  it('is never below the encoded size and within 2% + 16 KiB of it', () => {
    const decoder = families.gpt2!;
    for (const graph of [buildDecoderGraph(decoder), buildBackwardGraph(decoder, 'full'), buildBackwardGraph(decoder, 'linear')]) {
      const estimate = protoBytesEstimate(graph);
      const actual = encodeModel(graph.message()).byteLength;
      expect(estimate).toBeGreaterThanOrEqual(actual);
      expect(estimate).toBeLessThanOrEqual(actual * 1.02 + 16384);
    }
  });

  it('sends a backward graph past 2 GB (GPT-2 large shapes) to external data, and GPT-2 small\'s not', () => {
    const large = untouchedGpt2(gpt2Spec({ nLayers: 36, dModel: 1280, nHeads: 20, vocabSize: 50257, contextLength: 1024 }));
    const graph = buildBackwardGraph(large, 'full');
    const matrixBytes = 36 * 12 * 1280 * 1280 * 4; // W_Q, W_K, W_V, W_O (d²) and W_in, W_out (4d²) per layer, once each
    expect(protoBytesEstimate(graph)).toBeGreaterThan(PROTOBUF_LIMIT);
    expect(protoBytesEstimate(graph)).toBeLessThan(matrixBytes * 1.01);
    expect(needsExternalData(graph)).toBe(true);
    const small = untouchedGpt2(gpt2SmallSpec());
    expect(needsExternalData(buildBackwardGraph(small, 'full'))).toBe(false);
    expect(needsExternalData(buildBackwardGraph(small, 'full'), 1 << 20)).toBe(true);
  });
});

describe('devices', () => {
  it('backward and logit-effect sessions fall back to the CPU with the one notice when CUDA cannot start', async () => {
    const decoder = families.llama!;
    const notices: string[] = [];
    const backward = await BackwardRunner.create(decoder, 'linear', { device: 'cuda', onNotice: (m) => notices.push(m) });
    expect(backward.device).toBe('cpu');
    const effects = await BulkLogitEffects.create(decoder, 61, 5, { session: { device: 'cuda', onNotice: (m) => notices.push(m) } });
    expect(notices).toHaveLength(2);
    for (const notice of notices) expect(notice).toMatch(/^(CUDA was asked for|Device cuda failed to start).*running on the CPU\.$/);
    await backward.dispose();
    await effects.dispose();
  });

  // WebGPU through Vulkan (a real GPU, or SwiftShader in CI), as in runner.test.ts.
  const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';
  const vulkanLoader = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1'].some(existsSync);
  const vulkanDriver = process.env.VK_ICD_FILENAMES ?? (existsSync(swiftshader) ? swiftshader : undefined);
  it.skipIf(!vulkanLoader || !vulkanDriver)('the backward runner runs on the forward runner\'s device by default, with the CPU\'s numbers', async () => {
    process.env.VK_ICD_FILENAMES = vulkanDriver;
    if (!process.env.XDG_RUNTIME_DIR) {
      mkdirSync('/tmp/circuits-xr-xdg', { recursive: true });
      process.env.XDG_RUNTIME_DIR = '/tmp/circuits-xr-xdg';
    }
    const decoder = randomDecoder(gpt2Spec({ nLayers: 2, dModel: 32, nHeads: 4, vocabSize: 61, contextLength: 32 }), 33, 0.25);
    const { cache, cotangents, fetch } = await backwardFeeds(decoder, 'linear');
    const cpu = await BackwardRunner.create(decoder, 'linear');
    expect(cpu.device).toBe('cpu'); // no forward runner on another device yet
    const forward = await ModelRunner.create(decoder, { device: 'webgpu', onNotice: () => {} });
    expect(forward.device).toBe('webgpu');
    expect(sessionSettingsFor(decoder).device).toBe('webgpu');
    const gpu = await BackwardRunner.create(decoder, 'linear');
    expect(gpu.device).toBe('webgpu');
    const a = await cpu.run(cache, cotangents, fetch);
    const b = await gpu.run(cache, cotangents, fetch);
    for (const name of fetch) {
      const diff = Math.max(...Array.from(a[name]!.data, (x, i) => Math.abs(x - b[name]!.data[i]!)));
      expect(diff, name).toBeLessThan(1e-4);
    }
    for (const r of [cpu, gpu, forward]) await r.dispose();
  }, 60_000);
});
