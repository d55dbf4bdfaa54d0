/**
 * onnxruntime-web as the engine's runtime inside the engine worker (the browser's counterpart of
 * server/engine/session.ts): sessions for the graphs the shared engine compiles, on WebGPU when
 * the browser has it and WASM otherwise (multi-threaded when the page is cross-origin isolated),
 * and tensors those sessions accept (onnxruntime-web's own Tensor class).
 *
 * A WebGPU session that fails to start falls back to WASM with one notice in words, as a CUDA
 * session falls back to the CPU on the server. The engine's device names stay the server's:
 * 'cpu' is the WASM execution provider here.
 */
import * as ort from 'onnxruntime-web';
import { encodeModel } from '../../shared/engine/onnx/proto.js';
import type { GraphBuilder } from '../../shared/engine/onnx/graph-builder.js';
import { setEngineRuntime, type CreatedSession, type Device, type EngineSession, type SessionSettings } from '../../shared/engine/session.js';

/** What the page asked for: WebGPU if the browser has it ('auto'), or one of the two. */
export type DevicePreference = 'auto' | 'wasm' | 'webgpu';

export interface WebRuntime {
  /** The device new sessions use ('cpu' = WASM). */
  device: Device;
  /** WASM threads per session (1 unless the page is cross-origin isolated). */
  threads: number;
  /** Why the engine is not on the device asked for, in words, or null. */
  notice: string | null;
  /** One line for the status bar, e.g. "WASM, 4 threads" or "WebGPU (NVIDIA …)". */
  describe(): string;
}

/** The most WASM threads a session takes (ONNX Runtime's own default caps at 4 too). */
const MAX_THREADS = 4;

interface GpuLike {
  requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string; description?: string }; isFallbackAdapter?: boolean } | null>;
}

/** Why WASM runs on one thread on a page that is not cross-origin isolated, and what it needs. */
export const NOT_ISOLATED = 'WASM runs on one thread: the page is not cross-origin isolated (its host must send '
  + 'Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp, or serve it over https or '
  + 'localhost so coi-sw.js can add them; README, "Standalone build")';

/**
 * Registers onnxruntime-web as the engine's runtime (`ortWasm`: the folder holding its .wasm,
 * see asset-urls.ts) and picks the device for `preference`; `threads` caps WASM's threads (one
 * per core, at most 4, by default). `onNotice` hears a later fallback.
 */
export async function registerWebRuntime(ortWasm: string, preference: DevicePreference, onNotice: (message: string) => void, threads: number | null = null): Promise<WebRuntime> {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  ort.env.wasm.wasmPaths = ortWasm;
  ort.env.wasm.numThreads = isolated ? Math.max(1, Math.min(MAX_THREADS, cores, threads ?? MAX_THREADS)) : 1;
  ort.env.wasm.proxy = false; // this is already a worker
  ort.env.logLevel = 'error';

  let adapterWords = '';
  let notice: string | null = null;
  let device: Device = 'cpu';
  if (preference !== 'wasm') {
    const gpu = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
    let adapter: Awaited<ReturnType<GpuLike['requestAdapter']>> = null;
    let failure = 'this browser has no WebGPU (navigator.gpu is missing)';
    if (gpu) {
      try {
        adapter = await gpu.requestAdapter();
        if (!adapter) failure = 'WebGPU found no adapter (no GPU, or it is blocked)';
      } catch (error) {
        failure = `WebGPU's adapter request failed (${(error as Error).message})`;
      }
    }
    if (adapter) {
      device = 'webgpu';
      const info = adapter.info ?? {};
      const name = [info.vendor, info.architecture || info.description].filter(Boolean).join(' ');
      adapterWords = `${name || 'adapter'}${adapter.isFallbackAdapter ? ', software' : ''}`;
    } else if (preference === 'webgpu') {
      notice = `${failure}; running on WASM`;
    }
  }
  if (device === 'cpu' && !isolated) notice = notice ? `${notice}; ${NOT_ISOLATED}` : NOT_ISOLATED;

  const runtime: WebRuntime = {
    device,
    threads: ort.env.wasm.numThreads,
    notice,
    describe() {
      const wasm = `WASM, ${this.threads} thread${this.threads === 1 ? '' : 's'}${isolated ? '' : ' (the page is not cross-origin isolated)'}`;
      return this.device === 'webgpu' ? `WebGPU (${adapterWords})` : wasm;
    },
  };

  const options = (on: Device): ort.InferenceSession.SessionOptions => ({
    executionProviders: [on === 'webgpu' ? 'webgpu' : 'wasm'],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });

  const createWebSession = async (graph: GraphBuilder, settings: SessionSettings): Promise<CreatedSession> => {
    const notify = settings.onNotice ?? onNotice;
    // A graph of a decoder whose forward runner was made here carries that runner's device
    // (sessionSettingsFor); a graph without settings runs on this runtime's device.
    if (settings.device === 'cuda') notify('CUDA is a server device; the in-browser engine runs on WASM or WebGPU');
    let on: Device = settings.device === 'webgpu' || settings.device === 'cpu' ? settings.device : runtime.device;
    const model = encodeModel(graph.message());
    try {
      return { session: wrap(await ort.InferenceSession.create(model, options(on))), device: on, externalData: false };
    } catch (error) {
      if (on === 'cpu') throw error;
      const words = `WebGPU could not run this graph (${(error as Error).message.split('\n')[0]}); running on WASM`;
      notify(words);
      runtime.notice = words;
      runtime.device = 'cpu';
      on = 'cpu';
      return { session: wrap(await ort.InferenceSession.create(model, options(on))), device: on, externalData: false };
    }
  };

  setEngineRuntime({
    createSession: createWebSession,
    tensor: (type, data, dims) => new ort.Tensor(type, data, dims),
  });
  return runtime;
}

function wrap(session: ort.InferenceSession): EngineSession {
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    run: (feeds, fetch) => (fetch ? session.run(feeds, [...fetch]) : session.run(feeds)),
    release: () => session.release(),
  };
}
