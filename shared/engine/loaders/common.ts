/**
 * Shared pieces of the checkpoint loaders: reading config.json, checked tensor reads, and the
 * small matrix reshuffles every family needs (transpose, column slices).
 * Matrices are row-major; "[rows, cols]" below.
 */
import { ModelError, type Activation, type Tensor } from '../decoder.js';
import type { TensorStore } from '../safetensors.js';
import type { ModelFiles } from '../files.js';

export type HfConfig = Record<string, unknown>;

/** Parses the model's config.json, with a ModelError when it is missing or not JSON. */
export function readConfig(files: ModelFiles): HfConfig {
  const path = files.path('config.json');
  if (!files.exists('config.json')) throw new ModelError(`${files.root}: no config.json (expected a Hugging Face model directory or a llama2.c .bin file)`);
  try {
    const config = JSON.parse(files.text('config.json')) as unknown;
    if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new Error('expected a JSON object');
    return config as HfConfig;
  } catch (error) {
    throw new ModelError(`${path}: not valid JSON (${(error as Error).message})`);
  }
}

/** A required positive integer from the config (or its fallback key), else a ModelError. */
export function configInt(config: HfConfig, source: string, keys: string[], fallback?: number): number {
  for (const key of keys) {
    const v = config[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ModelError(`${source}/config.json: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  }
  if (fallback !== undefined) return fallback;
  throw new ModelError(`${source}/config.json: missing "${keys[0]}"`);
}

export function configNumber(config: HfConfig, source: string, key: string, fallback: number): number {
  const v = config[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelError(`${source}/config.json: "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

export function shapeText(shape: number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Reads `name` from the store after checking its shape; the error names tensor and both shapes. */
export function readChecked(store: TensorStore, name: string, expected: number[]): Tensor {
  if (!store.has(name)) throw new ModelError(`${store.source}: missing tensor "${name}" (expected shape ${shapeText(expected)})`);
  const actual = store.shape(name);
  if (actual.length !== expected.length || actual.some((n, i) => n !== expected[i])) {
    throw new ModelError(`${store.source}: tensor "${name}" has shape ${shapeText(actual)}, expected ${shapeText(expected)}`);
  }
  return store.read(name);
}

/** [rows, cols] → [cols, rows]. */
export function transpose(t: Tensor): Tensor {
  const [rows, cols] = t.shape as [number, number];
  const out = new Float32Array(rows * cols);
  // Blocked, so both arrays are walked in cache-sized tiles (embedding matrices are large).
  const B = 64;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[c * rows + r] = t.data[r * cols + c]!;
    }
  }
  return { shape: [cols, rows], data: out };
}

/** Columns [from, to) of a [rows, cols] matrix, or elements [from, to) of a vector. */
export function sliceColumns(t: Tensor, from: number, to: number): Tensor {
  if (t.shape.length === 1) return { shape: [to - from], data: t.data.slice(from, to) };
  const [rows, cols] = t.shape as [number, number];
  const width = to - from;
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(t.data.subarray(r * cols + from, r * cols + to), r * width);
  return { shape: [rows, width], data: out };
}

/** Throws when the store holds tensors no rule accounted for (a misidentified architecture). */
export function checkNoUnknownTensors(store: TensorStore, used: Set<string>, ignore: (name: string) => boolean): void {
  const unknown = store.names().filter((n) => !used.has(n) && !ignore(n));
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 5).map((n) => `"${n}"`).join(', ');
    throw new ModelError(`${store.source}: unexpected tensors this loader does not understand: ${shown}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''}`);
  }
}

/** Hugging Face activation names → ours (the tanh-approximation aliases all compute gelu_new). */
export function activationFromHf(config: HfConfig, source: string, key: string, fallback: Activation): Activation {
  const raw = config[key] ?? fallback;
  const known: Record<string, Activation> = {
    gelu_new: 'gelu_new', gelu_pytorch_tanh: 'gelu_new', gelu_fast: 'gelu_new',
    gelu: 'gelu', relu: 'relu', silu: 'silu', swish: 'silu',
  };
  const activation = typeof raw === 'string' ? known[raw] : undefined;
  if (!activation) throw new ModelError(`${source}/config.json: unsupported ${key} ${JSON.stringify(raw)} (supported: ${Object.keys(known).join(', ')})`);
  return activation;
}
