/**
 * The in-browser engine's runtime (client/engine-worker/web-runtime.ts) on onnxruntime-web's WASM
 * backend, here in Node: the engine's runner made through it gives the same logits as through the
 * server's runtime; threads follow isolation and `?threads=`; a page that is not cross-origin
 * isolated is told in words what it needs; WebGPU asked for where there is none falls back to WASM
 * with the reason.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { gpt2Spec, randomDecoder } from '../../../shared/engine/random-decoder.js';
import * as ortWeb from 'onnxruntime-web';
import { ModelRunner } from '../../../shared/engine/runner.js';
import { ortTensor } from '../../../shared/engine/session.js';
import { registerWebRuntime, NOT_ISOLATED } from '../../../client/engine-worker/web-runtime.js';
import { browserThreads } from '../../../client/state/engine-choice.js';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

/** onnxruntime-web's own dist folder, where its wasm lies (the page uses /ort/). */
const ortWasm = `${dirname(createRequire(import.meta.url).resolve('onnxruntime-web'))}/`;

const decoder = randomDecoder(gpt2Spec({ nLayers: 2, dModel: 32, nHeads: 4, vocabSize: 61, contextLength: 32 }), 5, 0.2);
const prompt = [3, 14, 15, 9, 26, 5];
const page = globalThis as { crossOriginIsolated?: boolean; navigator?: unknown };
const saved = { isolated: page.crossOriginIsolated, navigator: Object.getOwnPropertyDescriptor(globalThis, 'navigator') };

afterEach(() => {
  page.crossOriginIsolated = saved.isolated;
  if (saved.navigator) Object.defineProperty(globalThis, 'navigator', saved.navigator);
  else delete page.navigator;
});

function fakeNavigator(value: object): void {
  Object.defineProperty(globalThis, 'navigator', { value, configurable: true, writable: true });
}

describe('onnxruntime-web as the engine runtime', () => {
  it('runs the engine with the same logits as onnxruntime-node', async () => {
    const expected = await (await ModelRunner.create(decoder, { inThread: false })).run([prompt]);
    page.crossOriginIsolated = false;
    fakeNavigator({ hardwareConcurrency: 2 });
    const runtime = await registerWebRuntime(ortWasm, 'wasm', () => {});
    expect(runtime.device).toBe('cpu');
    // The engine now makes onnxruntime-web's tensors (and so its sessions), not onnxruntime-node's.
    expect(ortTensor('float32', new Float32Array(1), [1])).toBeInstanceOf(ortWeb.Tensor);
    const got = await (await ModelRunner.create(decoder, { device: runtime.device })).run([prompt]);
    let max = 0;
    for (let i = 0; i < expected.logits.data.length; i++) max = Math.max(max, Math.abs(expected.logits.data[i]! - got.logits.data[i]!));
    expect(max).toBeLessThan(1e-4);
  });

  it('takes one thread and says what it needs when the page is not cross-origin isolated', async () => {
    page.crossOriginIsolated = false;
    fakeNavigator({ hardwareConcurrency: 8 });
    const runtime = await registerWebRuntime(ortWasm, 'wasm', () => {});
    expect(runtime.threads).toBe(1);
    expect(runtime.notice).toBe(NOT_ISOLATED);
    expect(NOT_ISOLATED).toMatch(/Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp/);
  });

  it('takes a thread per core up to 4 when isolated, or what ?threads= asks, with no notice', async () => {
    page.crossOriginIsolated = true;
    fakeNavigator({ hardwareConcurrency: 8 });
    expect((await registerWebRuntime(ortWasm, 'wasm', () => {})).threads).toBe(4);
    const one = await registerWebRuntime(ortWasm, 'wasm', () => {}, 1);
    expect(one.threads).toBe(1);
    expect(one.notice).toBeNull();
    fakeNavigator({ hardwareConcurrency: 2 });
    expect((await registerWebRuntime(ortWasm, 'wasm', () => {}, 3)).threads).toBe(2);
    expect(browserThreads('?engine=browser&threads=1')).toBe(1);
    expect(browserThreads('?threads=0')).toBeNull();
    expect(browserThreads('?threads=two')).toBeNull();
  });

  it('falls back to WASM with the reason when WebGPU is asked for and has no adapter', async () => {
    page.crossOriginIsolated = true;
    fakeNavigator({ hardwareConcurrency: 2, gpu: { requestAdapter: async () => null } });
    const runtime = await registerWebRuntime(ortWasm, 'webgpu', () => {});
    expect(runtime.device).toBe('cpu');
    expect(runtime.notice).toBe('WebGPU found no adapter (no GPU, or it is blocked); running on WASM');
    fakeNavigator({ hardwareConcurrency: 2 });
    expect((await registerWebRuntime(ortWasm, 'webgpu', () => {})).notice).toBe('this browser has no WebGPU (navigator.gpu is missing); running on WASM');
    // 'auto' without WebGPU is WASM with nothing to say.
    expect((await registerWebRuntime(ortWasm, 'auto', () => {})).notice).toBeNull();
  });
});
