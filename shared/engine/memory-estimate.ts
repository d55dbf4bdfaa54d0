/**
 * How much memory the in-browser engine needs for a model, from its config.json (or a llama2.c
 * header, or only the sizes of its files), before any weight is read, and whether this browser
 * allows it. A model too large is refused with the numbers in words, instead of a tab that
 * crashes minutes later.
 *
 * What the engine holds (client/engine-worker/worker.ts, web-runtime.ts):
 * - the files themselves, in the worker until the decoder is loaded (file bytes);
 * - the decoder's weights as float32 (f16/bf16 safetensors are widened; a tied unembedding is a
 *   second, transposed copy of the embedding): `weights` below, in JS ArrayBuffers;
 * - the ONNX protobuf made at each session's creation (weights as initializers): one more copy,
 *   briefly, in JS;
 * - onnxruntime-web's WebAssembly heap: the model bytes copied in, the initializers it keeps, the
 *   backward graph's session for Explain, and the activations of a run. WebAssembly memory only
 *   grows: its peak is what stays. The ratio WASM_HEAP_PER_WEIGHT_BYTE was measured in Chromium
 *   on the bundled model (tools/measure-browser-memory.ts; docs-notes/issue-14-drop.md).
 *
 * Limits: onnxruntime-web's WASM build is 32-bit, so its heap cannot pass 4 GiB whatever the
 * machine has; Chromium's JS heap limit (performance.memory.jsHeapSizeLimit) bounds the JS side
 * where the browser tells it; navigator.deviceMemory (GiB, rounded down, at most 8) is a hint of
 * the device's memory for the whole.
 */
import { ModelError, type DecoderSpec } from './decoder.js';
import { memoryFiles } from './files.js';
import { hfSpec } from './loaders/hf.js';
import { llama2cSpec, readLlama2cHeader } from './loaders/llama2c.js';

/** WebAssembly heap bytes per byte of the decoder's float32 weights: 77,594,624 bytes of
 * WebAssembly memory for 21,157,888 bytes of weights (3.67) on the bundled model in Chromium 156,
 * after load, a run of the whole context and an Explain alike (the heap grew no further: the
 * freed copy of the model bytes holds the later sessions and activations). It includes ONNX
 * Runtime's fixed part, so for larger models it errs on the safe side. */
export const WASM_HEAP_PER_WEIGHT_BYTE = 3.7;
/** onnxruntime-web's WASM32 heap: 4 GiB at most. */
export const WASM32_MAX_BYTES = 2 ** 32;

const GB = 1e9;

/** The decoder's float count for a spec: what the loaders hold (shared/engine/decoder.ts names). */
export function decoderParameters(spec: DecoderSpec): number {
  const { nLayers: L, dModel: d, nHeads: H, nKvHeads: Hkv, dHead: dh, dMlp, vocabSize: V, contextLength } = spec;
  const norm = spec.norm.kind === 'layernorm' ? 2 * d : d;
  const attention = d * H * dh + 2 * d * Hkv * dh + H * dh * d
    + (spec.biases.qkv ? H * dh + 2 * Hkv * dh : 0) + (spec.biases.attnOut ? d : 0);
  const mlp = (spec.mlp.kind === 'gated' ? 3 : 2) * d * dMlp + (spec.biases.mlp ? dMlp + d : 0);
  const perLayer = 2 * norm + attention + mlp;
  return V * d // embed.W_E
    + (spec.positional.kind === 'learned' ? contextLength * d : 0)
    + L * perLayer
    + norm // ln_final
    + d * V + (spec.biases.unembed ? V : 0); // unembed.W_U (its own array even when tied)
}

/** The activation bytes of a run of the whole context, an upper bound: per position and layer
 * the KV cache and the captured hooks (residuals, MLP pre/post); one layer's attention rows (the
 * runtime frees them layer by layer); the logits. (On the bundled model they fit in the heap's
 * freed space: no growth was measured.) */
export function activationBytes(spec: DecoderSpec): number {
  const T = spec.contextLength;
  const perLayer = 2 * spec.nKvHeads * spec.dHead + 4 * spec.dModel + 2 * spec.dMlp;
  return 4 * T * (spec.nLayers * perLayer + spec.nHeads * T + spec.vocabSize);
}

export interface MemoryNeed {
  /** The model's name (its folder). */
  name: string;
  /** How the figures were found. */
  basis: 'config.json' | 'llama2.c header' | 'file sizes';
  parameters: number;
  /** The decoder's weights as float32. */
  weightsBytes: number;
  /** The files read into memory (held until the decoder is loaded). */
  fileBytes: number;
  /** The ONNX protobuf copy made at session creation. */
  protobufBytes: number;
  /** onnxruntime-web's WebAssembly heap (its copy of the weights + activations). */
  wasmBytes: number;
  activationBytes: number;
  /** The JS side at its peak: files + weights + protobuf. */
  jsBytes: number;
  total: number;
  contextLength: number | null;
}

function need(name: string, basis: MemoryNeed['basis'], parameters: number, fileBytes: number, activations: number, contextLength: number | null): MemoryNeed {
  const weightsBytes = 4 * parameters;
  const protobufBytes = weightsBytes;
  const wasmBytes = WASM_HEAP_PER_WEIGHT_BYTE * weightsBytes + activations;
  const jsBytes = fileBytes + weightsBytes + protobufBytes;
  return { name, basis, parameters, weightsBytes, fileBytes, protobufBytes, wasmBytes, activationBytes: activations, jsBytes, total: jsBytes + wasmBytes, contextLength };
}

/** From a decoder spec (a config.json or a llama2.c header parsed). */
export function estimateFromSpec(name: string, spec: DecoderSpec, fileBytes: number, basis: MemoryNeed['basis']): MemoryNeed {
  return need(name, basis, decoderParameters(spec), fileBytes, activationBytes(spec), spec.contextLength);
}

/** From config.json's text (HF GPT-2 / Llama families); a ModelError when it cannot be read. */
export function estimateFromConfig(name: string, configText: string, fileBytes: number): MemoryNeed {
  const files = memoryFiles(name, new Map([['config.json', new TextEncoder().encode(configText)]]));
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(configText) as Record<string, unknown>;
  } catch (error) {
    throw new ModelError(`${name}/config.json: not valid JSON (${(error as Error).message})`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new ModelError(`${name}/config.json: expected a JSON object`);
  return estimateFromSpec(name, hfSpec(config, files), fileBytes, 'config.json');
}

/** From a llama2.c checkpoint's first 28 bytes and its size. */
export function estimateFromLlama2cHeader(name: string, checkpoint: string, header: Uint8Array, checkpointBytes: number, fileBytes: number): MemoryNeed {
  return estimateFromSpec(name, llama2cSpec(readLlama2cHeader(`${name}/${checkpoint}`, header, checkpointBytes)), fileBytes, 'llama2.c header');
}

/**
 * From the weight files' sizes alone (no readable config): each stored value becomes a float32,
 * and 16-bit files (`bytesPerValue` 2, the common case on the Hub) double. Activations unknown: 0.
 */
export function estimateFromFileSizes(name: string, weightFileBytes: number, bytesPerValue: number, fileBytes: number): MemoryNeed {
  return need(name, 'file sizes', Math.ceil(weightFileBytes / bytesPerValue), fileBytes, 0, null);
}

/** A safetensors file's header: its length (the first 8 bytes, little-endian u64). */
export function safetensorsHeaderLength(first8: Uint8Array): number {
  if (first8.byteLength < 8) throw new ModelError('not a safetensors file (shorter than 8 bytes)');
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  return Number(view.getBigUint64(0, true));
}

/** The values stored in a safetensors file (by its header JSON), and the bytes per value of its float tensors. */
export function safetensorsParameters(headerJson: string): { parameters: number; byDtype: Record<string, number> } {
  const header = JSON.parse(headerJson) as Record<string, { dtype?: string; shape?: number[] }>;
  const byDtype: Record<string, number> = {};
  let parameters = 0;
  for (const [key, entry] of Object.entries(header)) {
    if (key === '__metadata__' || !Array.isArray(entry?.shape)) continue;
    const count = entry.shape.reduce((a, b) => a * b, 1);
    parameters += count;
    byDtype[entry.dtype ?? '?'] = (byDtype[entry.dtype ?? '?'] ?? 0) + count;
  }
  return { parameters, byDtype };
}

/** A whole safetensors file's bytes → its value count (tests and tools). */
export function parseSafetensorsHeader(bytes: Uint8Array): { parameters: number; byDtype: Record<string, number>; fileBytes: number } {
  const length = safetensorsHeaderLength(bytes.subarray(0, 8));
  return { ...safetensorsParameters(new TextDecoder().decode(bytes.subarray(8, 8 + length))), fileBytes: bytes.byteLength };
}

export interface BrowserLimits {
  /** onnxruntime-web's WASM heap (4 GiB). */
  wasmBytes: number;
  /** performance.memory.jsHeapSizeLimit (Chromium), else null. */
  jsHeapBytes: number | null;
  /** navigator.deviceMemory in bytes (a hint: rounded down, at most 8 GiB), else null. */
  deviceBytes: number | null;
}

/** What this browser allows, from what it tells (pass `globalThis` in a page or worker). */
export function browserLimits(env: { performance?: unknown; navigator?: unknown }): BrowserLimits {
  const memory = (env.performance as { memory?: { jsHeapSizeLimit?: number } } | undefined)?.memory;
  const device = (env.navigator as { deviceMemory?: number } | undefined)?.deviceMemory;
  return {
    wasmBytes: WASM32_MAX_BYTES,
    jsHeapBytes: typeof memory?.jsHeapSizeLimit === 'number' && memory.jsHeapSizeLimit > 0 ? memory.jsHeapSizeLimit : null,
    deviceBytes: typeof device === 'number' && device > 0 ? device * 2 ** 30 : null,
  };
}

/** "6.2 GB" (decimal, one decimal; "850 MB" under a gigabyte). */
export function formatBytes(bytes: number): string {
  if (bytes >= GB) return `${(bytes / GB).toFixed(1)} GB`;
  return `${Math.max(1, Math.round(bytes / 1e6))} MB`;
}

/** "4 GB" for exact binary sizes: 2^32 is said as "4 GB", as people say it. */
function formatLimit(bytes: number): string {
  const gib = bytes / 2 ** 30;
  return Number.isInteger(gib) ? `${gib} GB` : formatBytes(bytes);
}

/** Why this browser cannot run the model, in words with the numbers; null when it fits. */
export function memoryRefusal(need: MemoryNeed, limits: BrowserLimits): string | null {
  const parts = [
    `weights ${formatBytes(need.weightsBytes)} as float32 (${(need.parameters / 1e6).toFixed(need.parameters < 1e7 ? 2 : 0)} M values)`,
    `ONNX Runtime's copy and activations ${formatBytes(need.wasmBytes)}`,
    `the files and the ONNX model ${formatBytes(need.fileBytes + need.protobufBytes)}`,
  ];
  const head = `${need.name} needs about ${formatBytes(need.total)} in this browser (${parts.join(', ')}; from its ${need.basis})`;
  const server = 'run it on the server instead (npm start -- --model <folder>)';
  if (need.wasmBytes > limits.wasmBytes) {
    return `${head}: ONNX Runtime's part alone (${formatBytes(need.wasmBytes)}) is more than the ${formatLimit(limits.wasmBytes)} a WebAssembly engine can address; ${server}`;
  }
  if (limits.jsHeapBytes !== null && need.jsBytes > limits.jsHeapBytes) {
    return `${head}: the JavaScript part (${formatBytes(need.jsBytes)}) is more than this browser's heap limit of ${formatBytes(limits.jsHeapBytes)}; ${server}`;
  }
  if (limits.deviceBytes !== null && need.total > limits.deviceBytes) {
    return `${head}: more than the ${formatLimit(limits.deviceBytes)} of memory this device reports; ${server}`;
  }
  return null;
}
