/**
 * The runtime's own guarantees, on small random models of both families (LayerNorm + GELU +
 * learned positions; RMSNorm + SwiGLU + rotary + grouped KV heads): hook invariants, KV-cache
 * decoding equal to full re-runs, batching, external weights, and the other runtimes
 * (onnxruntime-web, WebGPU) agreeing with the CPU.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as ortWeb from 'onnxruntime-web';
import type { Decoder, Tensor } from '../../../shared/engine/decoder.js';
import { allHookNames, hookName } from '../../../shared/engine/hooks.js';
import { buildDecoderGraph } from '../../../shared/engine/onnx/compile.js';
import { encodeModel } from '../../../shared/engine/onnx/proto.js';
import { gpt2Spec, llamaSpec, randomDecoder } from '../../../shared/engine/random-decoder.js';
import { ModelRunner } from '../../../shared/engine/runner.js';
import { generate } from '../../../shared/engine/generate.js';

const families: Record<string, Decoder> = {
  gpt2: randomDecoder(gpt2Spec({ nLayers: 3, dModel: 32, nHeads: 4, vocabSize: 97, contextLength: 64 }), 11, 0.15),
  llama: randomDecoder(llamaSpec({ nLayers: 3, dModel: 32, nHeads: 4, nKvHeads: 2, dMlp: 48, vocabSize: 97, contextLength: 64 }), 12, 0.15),
};
const prompt = [5, 17, 3, 88, 42, 9, 61, 23];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** a + b elementwise compared with c. */
function sumDiff(a: Tensor, b: Tensor, c: Tensor): number {
  let max = 0;
  for (let i = 0; i < c.data.length; i++) max = Math.max(max, Math.abs(a.data[i]! + b.data[i]! - c.data[i]!));
  return max;
}

describe.each(Object.entries(families))('runtime on a random %s-style model', (family, decoder) => {
  const spec = decoder.spec;

  it('satisfies the hook invariants of INTERP.md', async () => {
    const runner = await ModelRunner.create(decoder);
    const { cache } = await runner.run([prompt], { hooks: allHookNames(spec) });
    const T = prompt.length;
    for (let l = 0; l < spec.nLayers; l++) {
      expect(sumDiff(cache[hookName.residPre(l)]!, cache[hookName.attnOut(l)]!, cache[hookName.residMid(l)]!)).toBeLessThan(1e-5);
      expect(sumDiff(cache[hookName.residMid(l)]!, cache[hookName.mlpOut(l)]!, cache[hookName.residPost(l)]!)).toBeLessThan(1e-5);
      // Pattern rows are causal and sum to 1.
      const pattern = cache[hookName.pattern(l)]!;
      expect(pattern.shape).toEqual([1, spec.nHeads, T, T]);
      for (let h = 0; h < spec.nHeads; h++) {
        for (let q = 0; q < T; q++) {
          let sum = 0;
          for (let k = 0; k < T; k++) {
            const p = pattern.data[(h * T + q) * T + k]!;
            if (k > q) expect(p).toBe(0);
            sum += p;
          }
          expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
        }
      }
      // mlp_out = hook_post · W_out + b_out, recomputed here with plain loops.
      const post = cache[hookName.mlpPost(l)]!;
      const out = cache[hookName.mlpOut(l)]!;
      const W_out = decoder.weights[`blocks.${l}.mlp.W_out`]!.data;
      const b_out = decoder.weights[`blocks.${l}.mlp.b_out`]?.data;
      const { dMlp, dModel: d } = spec;
      let max = 0;
      for (let t = 0; t < T; t++) {
        for (let j = 0; j < d; j++) {
          let acc = b_out ? b_out[j]! : 0;
          for (let i = 0; i < dMlp; i++) acc += post.data[t * dMlp + i]! * W_out[i * d + j]!;
          max = Math.max(max, Math.abs(acc - out.data[t * d + j]!));
        }
      }
      expect(max).toBeLessThan(1e-4);
    }
    await runner.dispose();
  });

  it('decodes 32 tokens with the KV cache exactly as full re-runs do', async () => {
    const runner = await ModelRunner.create(decoder);
    const stepLogits: Float32Array[] = [];
    const { tokens } = await generate(runner, prompt, {
      maxTokens: 32, temperature: 1, seed: 7,
      onToken: (_token, step) => { stepLogits.push(Float32Array.from(step.logits)); },
    });
    expect(tokens).toHaveLength(32);
    const V = spec.vocabSize;
    for (let i = 0; i < tokens.length; i++) {
      // The logits that chose token i came from the sequence prompt + tokens[0..i).
      const context = [...prompt, ...tokens.slice(0, i)];
      const { logits } = await runner.run([context], { positions: 'last' });
      expect(maxAbsDiff(stepLogits[i]!, logits.data.subarray(0, V))).toBeLessThan(1e-4);
    }
    await runner.dispose();
  });

  it('runs a batch of variants (right-padded) as it runs each alone', async () => {
    const runner = await ModelRunner.create(decoder);
    const variants = [prompt, prompt.slice(0, 5), [...prompt.slice(0, 3), 1, ...prompt.slice(4)]];
    const hooks = [hookName.mlpPost(1), hookName.pattern(2)];
    const batch = await runner.run(variants, { hooks, positions: 'last' });
    for (let b = 0; b < variants.length; b++) {
      const alone = await runner.run([variants[b]!], { hooks, positions: 'last' });
      const V = spec.vocabSize;
      expect(maxAbsDiff(batch.logits.data.subarray(b * V, (b + 1) * V), alone.logits.data)).toBeLessThan(1e-5);
    }
    await runner.dispose();
  });

  it('compiles only what the hooks need for a runner with `outputs`, with identical hooks and no logits', async () => {
    const hooks = [hookName.mlpPost(0), hookName.mlpPost(spec.nLayers - 1)];
    const full = await ModelRunner.create(decoder);
    const pruned = await ModelRunner.create(decoder, { outputs: hooks });
    const batch = [prompt, prompt.slice(0, 5).concat([1, 2, 3])];
    const expected = (await full.run(batch, { hooks })).cache;
    const only = await full.runHooks(batch, hooks);
    const got = await pruned.runHooks(batch, hooks);
    for (const name of hooks) {
      expect(maxAbsDiff(only[name]!.data, expected[name]!.data)).toBe(0);
      expect(maxAbsDiff(got[name]!.data, expected[name]!.data)).toBe(0);
    }
    await expect(pruned.run(batch)).rejects.toThrow(/no logits/);
    await expect(pruned.runHooks(batch, [hookName.residPost(0)])).rejects.toThrow(/was not compiled into this runner/);
    // The last layer's MLP output, the final norm and the unembedding are gone from the graph.
    const graph = buildDecoderGraph(decoder).keepOutputs(hooks);
    expect(graph.initializers.map((t) => t.name)).not.toContain('unembed.W_U');
    expect(graph.initializers.map((t) => t.name)).not.toContain(`blocks.${spec.nLayers - 1}.mlp.W_out`);
  });

  it('gives the same numbers with weights in an external-data file', async () => {
    const inMemory = await ModelRunner.create(decoder);
    const external = await ModelRunner.create(decoder, { externalDataThresholdBytes: 0 });
    const a = await inMemory.run([prompt]);
    const b = await external.run([prompt]);
    expect(maxAbsDiff(a.logits.data, b.logits.data)).toBe(0);
  });

  it('compiles to a graph that onnxruntime-web (wasm) runs with the same results', async () => {
    const runner = await ModelRunner.create(decoder);
    const expected = await runner.run([prompt], { hooks: [hookName.mlpPost(0)] });
    ortWeb.env.wasm.numThreads = 1;
    const session = await ortWeb.InferenceSession.create(encodeModel(buildDecoderGraph(decoder).message()));
    const T = prompt.length;
    const feeds: Record<string, ortWeb.Tensor> = {
      input_ids: new ortWeb.Tensor('int64', BigInt64Array.from(prompt.map(BigInt)), [1, T]),
      attention_bias: new ortWeb.Tensor('float32', causalBias(T), [1, 1, T, T]),
    };
    if (spec.positional.kind === 'learned') {
      feeds.position_ids = new ortWeb.Tensor('int64', BigInt64Array.from(prompt.map((_, i) => BigInt(i))), [1, T]);
    } else {
      const [cos, sin] = ropeTables(T, spec.dHead, spec.positional.theta);
      feeds.rope_cos = new ortWeb.Tensor('float32', cos, [1, T, 1, spec.dHead]);
      feeds.rope_sin = new ortWeb.Tensor('float32', sin, [1, T, 1, spec.dHead]);
    }
    for (let l = 0; l < spec.nLayers; l++) {
      for (const kind of ['past_key', 'past_value']) {
        feeds[`${kind}.${l}`] = new ortWeb.Tensor('float32', new Float32Array(0), [1, spec.nKvHeads, 0, spec.dHead]);
      }
    }
    const out = await session.run(feeds, ['logits', hookName.mlpPost(0)]);
    expect(maxAbsDiff(out.logits!.data as Float32Array, expected.logits.data)).toBeLessThan(1e-4);
    expect(maxAbsDiff(out[hookName.mlpPost(0)]!.data as Float32Array, expected.cache[hookName.mlpPost(0)]!.data)).toBeLessThan(1e-4);
    await session.release();
  });
  void family;
});

function causalBias(T: number): Float32Array {
  const bias = new Float32Array(T * T);
  for (let q = 0; q < T; q++) for (let k = q + 1; k < T; k++) bias[q * T + k] = -Infinity;
  return bias;
}

function ropeTables(T: number, dh: number, theta: number): [Float32Array, Float32Array] {
  const cos = new Float32Array(T * dh);
  const sin = new Float32Array(T * dh);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < dh / 2; i++) {
      const angle = t * theta ** (-2 * i / dh);
      cos[t * dh + i] = cos[t * dh + i + dh / 2] = Math.cos(angle);
      sin[t * dh + i] = sin[t * dh + i + dh / 2] = Math.sin(angle);
    }
  }
  return [cos, sin];
}

// WebGPU through Vulkan: a real GPU's driver, or in CI the software driver inside Debian's chromium.
const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';
const vulkanLoader = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1'].some(existsSync);
const vulkanDriver = process.env.VK_ICD_FILENAMES ?? (existsSync(swiftshader) ? swiftshader : undefined);
const webgpuSkip = !vulkanLoader ? 'no Vulkan loader (apt-get install libvulkan1)'
  : !vulkanDriver ? 'no Vulkan driver found (apt-get install chromium brings SwiftShader)' : null;
if (webgpuSkip) console.log(`skipping the WebGPU test: ${webgpuSkip}`);

describe.skipIf(webgpuSkip !== null)('WebGPU device', () => {
  it('gives the CPU\'s logits and hooks on a small model', async () => {
    process.env.VK_ICD_FILENAMES = vulkanDriver;
    if (!process.env.XDG_RUNTIME_DIR) {
      mkdirSync('/tmp/circuits-xr-xdg', { recursive: true });
      process.env.XDG_RUNTIME_DIR = '/tmp/circuits-xr-xdg';
    }
    const decoder = families.llama!;
    const notices: string[] = [];
    const gpu = await ModelRunner.create(decoder, { device: 'webgpu', onNotice: (m) => notices.push(m) });
    expect(notices).toEqual([]);
    expect(gpu.device).toBe('webgpu');
    const cpu = await ModelRunner.create(decoder);
    const hooks = [hookName.mlpPost(1), hookName.pattern(2), hookName.residPost(2)];
    const a = await cpu.run([prompt.slice(0, 5)], { hooks });
    const b = await gpu.run([prompt.slice(0, 5)], { hooks });
    expect(maxAbsDiff(a.logits.data, b.logits.data)).toBeLessThan(1e-4);
    for (const h of hooks) expect(maxAbsDiff(a.cache[h]!.data, b.cache[h]!.data)).toBeLessThan(1e-4);
  });
});
