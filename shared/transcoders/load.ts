/**
 * Loads a set of per-layer transcoders in circuit-tracer's layout from a folder's files
 * (`ModelFiles`: a folder on the server's disk, server/transcoders/load.ts, or files the page
 * fetched, shared/engine/files.ts `memoryFiles`):
 *   - a config (`config.yaml` / `config.yml` as circuit-tracer writes them, or `config.json`) with
 *     `model_name`, `feature_input_hook`, `feature_output_hook` and `transcoders`: a list of
 *     `{ id, layer, filepath }` (or of bare paths, layer = position); `hf://repo/path?revision=…`
 *     paths are looked up inside the folder (by their path in the repo, then their file name),
 *     since nothing downloads at run time; optional `activation_function` (relu, jump_relu, topk)
 *     and `k` for TopK;
 *   - or no config and files `layer_{l}.safetensors` (reading the MLP input, writing its output).
 * Each layer file holds `W_enc` [F, d] (Gemma Scope style [d, F] is detected by shape and
 * transposed), `W_dec` [F, d] (or [d, F]), `b_enc` [F], `b_dec` [d], optional `W_skip` [d, d],
 * optional `threshold` [F] (also `activation_function.threshold`) which makes it a JumpReLU.
 * Everything is checked against the model: width, every layer 0..L-1 present once, shapes, finite
 * values; each problem is one ModelError naming the file and the tensor.
 *
 * Legend: F features of a layer, d model width, L layers.
 */
import { ModelError, type DecoderSpec, type Tensor } from '../engine/decoder.js';
import type { ModelFiles } from '../engine/files.js';
import { SafetensorsFile } from '../engine/safetensors.js';
import { parseYaml, YamlError, type YamlValue } from './yaml.js';

export type TranscoderActivation = { kind: 'relu' } | { kind: 'jumprelu' } | { kind: 'topk'; k: number };

/** Where a transcoder reads: the MLP's normalised input or the residual stream before ln2. */
export type TranscoderInputHook = 'ln2.hook_normalized' | 'hook_resid_mid';

export interface LayerTranscoder {
  layer: number;
  id: string;
  /** The safetensors file, for messages. */
  path: string;
  nFeatures: number;
  W_enc: Tensor; // [F, d]
  W_dec: Tensor; // [F, d]
  b_enc: Tensor; // [F]
  b_dec: Tensor; // [d]
  W_skip: Tensor | null; // [d, d]: skip = x W_skipᵀ
  threshold: Tensor | null; // [F], JumpReLU only
}

export interface TranscoderSet {
  /** The directory (or config file) it came from. */
  source: string;
  modelName: string | null;
  inputHook: TranscoderInputHook;
  /** Always the MLP output (`hook_mlp_out`; circuit-tracer's `mlp.hook_out` means the same). */
  outputHook: 'hook_mlp_out';
  activation: TranscoderActivation;
  dModel: number;
  layers: LayerTranscoder[]; // index = layer
}

export const TRANSCODER_CONFIG_NAMES = ['config.yaml', 'config.yml', 'config.json'];
const INPUT_HOOKS: Record<string, TranscoderInputHook> = {
  'ln2.hook_normalized': 'ln2.hook_normalized', 'hook_resid_mid': 'hook_resid_mid',
};
const OUTPUT_HOOKS = new Set(['hook_mlp_out', 'mlp.hook_out']);

/** `name`: the file inside the folder (for `files`); `path`: what messages show. */
interface Entry { layer: number; id: string; name: string; path: string }

/**
 * Reads and checks the transcoder set in `files` (the transcoder folder) for a model. `config`:
 * the config's name in the folder; by default the first of TRANSCODER_CONFIG_NAMES present, or
 * none (then the files are layer_{l}.safetensors).
 */
export function loadTranscoderSet(files: ModelFiles, spec: DecoderSpec, config?: string): TranscoderSet {
  const configName = config ?? TRANSCODER_CONFIG_NAMES.find((n) => files.exists(n));
  const settings = configName ? readConfig(files, configName) : {};
  const where = configName ? files.path(configName) : files.root;
  const inputHook = hookSuffix(settings.feature_input_hook, 'ln2.hook_normalized', 'feature_input_hook', where);
  if (!(inputHook in INPUT_HOOKS)) {
    throw new ModelError(`${where}: feature_input_hook "${inputHook}" is not supported; transcoders here read ${Object.keys(INPUT_HOOKS).join(' or ')}`);
  }
  const outputHook = hookSuffix(settings.feature_output_hook, 'hook_mlp_out', 'feature_output_hook', where);
  if (!OUTPUT_HOOKS.has(outputHook)) {
    throw new ModelError(`${where}: feature_output_hook "${outputHook}" is not supported; transcoders here write hook_mlp_out`);
  }
  const entries = configName ? configEntries(settings, files, where) : defaultEntries(files, spec.nLayers);
  const declared = declaredActivation(settings, where);

  const byLayer = new Map<number, Entry>();
  for (const e of entries) {
    if (!Number.isInteger(e.layer) || e.layer < 0) throw new ModelError(`${where}: transcoder "${e.id}" has layer ${e.layer}; layers are integers from 0`);
    if (e.layer >= spec.nLayers) throw new ModelError(`${where}: transcoder "${e.id}" is for layer ${e.layer} but the model has ${spec.nLayers} layers (0..${spec.nLayers - 1})`);
    if (byLayer.has(e.layer)) throw new ModelError(`${where}: layer ${e.layer} has two transcoders (${byLayer.get(e.layer)!.path} and ${e.path})`);
    byLayer.set(e.layer, e);
  }
  const missing = Array.from({ length: spec.nLayers }, (_, l) => l).filter((l) => !byLayer.has(l));
  if (missing.length > 0) throw new ModelError(`${where}: no transcoder for layer${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (the model has ${spec.nLayers}; every MLP needs one)`);

  const layers = Array.from({ length: spec.nLayers }, (_, l) => readLayer(files, byLayer.get(l)!, spec.dModel));
  const jump = layers.filter((t) => t.threshold !== null);
  if (jump.length > 0 && jump.length < layers.length) {
    throw new ModelError(`${layers.find((t) => t.threshold === null)!.path}: no "threshold" tensor, but ${jump[0]!.path} has one; a set is all JumpReLU or none`);
  }
  let activation: TranscoderActivation = jump.length > 0 ? { kind: 'jumprelu' } : { kind: 'relu' };
  if (declared) {
    if (declared.kind === 'jumprelu' && jump.length === 0) throw new ModelError(`${layers[0]!.path}: the config says jump_relu but the file has no "threshold" tensor`);
    if (declared.kind !== 'jumprelu' && jump.length > 0) throw new ModelError(`${jump[0]!.path}: tensor "threshold" is present but the config says ${declared.kind}`);
    if (declared.kind === 'topk') {
      const small = layers.find((t) => t.nFeatures < declared.k);
      if (small) throw new ModelError(`${small.path}: TopK k = ${declared.k} exceeds its ${small.nFeatures} features`);
    }
    activation = declared;
  }
  const modelName = typeof settings.model_name === 'string' ? settings.model_name : null;
  return { source: where, modelName, inputHook: INPUT_HOOKS[inputHook]!, outputHook: 'hook_mlp_out', activation, dModel: spec.dModel, layers };
}

/**
 * The files of the folder a set reads (names inside it), for a page to fetch before loading
 * through `memoryFiles`: the files the config `config` in `files` lists (an hf:// path: both places
 * it is looked for), or with no config layer_{l}.safetensors for every layer. A config that cannot
 * be read gives the same ModelError as loading it.
 */
export function transcoderFileNames(files: ModelFiles, nLayers: number, config?: string): string[] {
  if (config === undefined) return Array.from({ length: nLayers }, (_, l) => `layer_${l}.safetensors`);
  const settings = readConfig(files, config);
  const list = Array.isArray(settings.transcoders) ? settings.transcoders : [];
  const names = list.flatMap((item): string[] => {
    const filepath = typeof item === 'string' ? item
      : typeof item === 'object' && item !== null && !Array.isArray(item) && typeof item.filepath === 'string' ? item.filepath : null;
    if (filepath === null) return [];
    if (!filepath.startsWith('hf://')) return isAbsolutePath(filepath) ? [] : [normalizeName(filepath)];
    return hfCandidates(filepath);
  });
  return [...new Set(names)];
}

function readConfig(files: ModelFiles, name: string): Record<string, YamlValue> {
  const path = files.path(name);
  let text: string;
  try {
    text = files.text(name);
  } catch (error) {
    throw new ModelError(`${path}: cannot read the transcoder config (${(error as Error).message})`);
  }
  let value: YamlValue;
  try {
    value = name.endsWith('.json') ? (JSON.parse(text) as YamlValue) : parseYaml(text, path);
  } catch (error) {
    if (error instanceof YamlError) throw new ModelError(error.message);
    throw new ModelError(`${path}: cannot read the transcoder config (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ModelError(`${path}: the transcoder config is not a mapping of keys to values`);
  return value;
}

/** `blocks.3.ln2.hook_normalized` or `ln2.hook_normalized` → `ln2.hook_normalized`. */
function hookSuffix(value: YamlValue | undefined, fallback: string, key: string, where: string): string {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'string') throw new ModelError(`${where}: ${key} should be a hook name, found ${JSON.stringify(value)}`);
  return value.replace(/^blocks\.\d+\./, '');
}

function declaredActivation(config: Record<string, YamlValue>, where: string): TranscoderActivation | null {
  const raw = config.activation_function ?? config.activation;
  if (raw === undefined || raw === null) return null;
  const name = String(raw).toLowerCase().replace(/[-_]/g, '');
  if (name === 'relu') return { kind: 'relu' };
  if (name === 'jumprelu') return { kind: 'jumprelu' };
  if (name === 'topk') {
    const k = config.k ?? config.top_k;
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) throw new ModelError(`${where}: activation_function topk needs a positive integer "k", found ${JSON.stringify(k ?? null)}`);
    return { kind: 'topk', k };
  }
  throw new ModelError(`${where}: activation_function "${String(raw)}" is not one of relu, jump_relu, topk`);
}

function configEntries(config: Record<string, YamlValue>, files: ModelFiles, where: string): Entry[] {
  const list = config.transcoders;
  if (!Array.isArray(list) || list.length === 0) throw new ModelError(`${where}: "transcoders" should be a non-empty list of { id, layer, filepath }`);
  return list.map((item, i) => {
    if (typeof item === 'string') {
      const layer = /layer[_-]?(\d+)/i.exec(baseName(item));
      return { layer: layer ? Number(layer[1]) : i, id: baseName(item), ...resolveFile(item, files, where) };
    }
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new ModelError(`${where}: transcoders[${i}] should be { id, layer, filepath }`);
    const { layer, filepath, id } = item;
    if (typeof layer !== 'number') throw new ModelError(`${where}: transcoders[${i}] has no numeric "layer"`);
    if (typeof filepath !== 'string') throw new ModelError(`${where}: transcoders[${i}] has no "filepath"`);
    return { layer, id: typeof id === 'string' ? id : `layer_${layer}`, ...resolveFile(filepath, files, where) };
  });
}

/** A config path in the folder: relative to the config (or absolute, where `files` can read it), or an hf:// URI found in the folder. */
function resolveFile(filepath: string, files: ModelFiles, where: string): { name: string; path: string } {
  if (!filepath.startsWith('hf://')) {
    const name = isAbsolutePath(filepath) ? filepath : normalizeName(filepath);
    if (!files.exists(name)) throw new ModelError(`${where}: transcoder file not found: ${files.path(name)}`);
    return { name, path: files.path(name) };
  }
  const candidates = hfCandidates(filepath);
  const found = candidates.find((n) => files.exists(n));
  if (!found) throw new ModelError(`${where}: ${filepath} is not on disk (looked for ${candidates.map((n) => files.path(n)).join(' and ')}); download it into the directory first, nothing downloads at run time`);
  if (found.endsWith('.npz')) throw new ModelError(`${files.path(found)}: .npz transcoders cannot be read; convert them to safetensors (same tensor names)`);
  return { name: found, path: files.path(found) };
}

/** hf://owner/repo/path/in/repo.safetensors?revision=… → its path in the repo, then its file name. */
function hfCandidates(uri: string): string[] {
  const inRepo = normalizeName(uri.slice('hf://'.length).split('?')[0]!.split('/').slice(2).join('/'));
  return [inRepo, baseName(inRepo)];
}

function baseName(path: string): string {
  return path.split(/[\\/]/).filter((p) => p !== '').pop() ?? '';
}

/** `/…`, `\\…` or `C:\…`: a path of the machine, not a name in the folder. */
function isAbsolutePath(path: string): boolean {
  return /^([\\/]|[A-Za-z]:[\\/])/.test(path);
}

/** `./a/../b.safetensors` → `b.safetensors` (as path.join would read it inside the folder). */
function normalizeName(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' && parts.length > 0 && parts[parts.length - 1] !== '..') parts.pop();
    else parts.push(part);
  }
  return parts.join('/');
}

function defaultEntries(files: ModelFiles, nLayers: number): Entry[] {
  const entries: Entry[] = [];
  for (let l = 0; l < nLayers; l++) {
    const name = `layer_${l}.safetensors`;
    if (files.exists(name)) entries.push({ layer: l, id: `layer_${l}`, name, path: files.path(name) });
  }
  if (entries.length === 0) throw new ModelError(`${files.root}: no transcoder config (${TRANSCODER_CONFIG_NAMES.join(', ')}) and no layer_{l}.safetensors files`);
  return entries;
}

function readLayer(files: ModelFiles, entry: Entry, d: number): LayerTranscoder {
  const file = SafetensorsFile.fromSource(entry.path, files.open(entry.name));
  const where = entry.path;
  try {
    const read = (name: string, alias?: string): Tensor | null => {
      const found = file.has(name) ? name : alias && file.has(alias) ? alias : null;
      if (!found) return null;
      const t = file.read(found);
      checkFinite(t, where, found);
      return t;
    };
    const need = (name: string): Tensor => {
      const t = read(name);
      if (!t) throw new ModelError(`${where}: missing tensor "${name}" (found ${file.names().join(', ')})`);
      return t;
    };
    const bEnc = need('b_enc');
    if (bEnc.shape.length !== 1) throw new ModelError(`${where}: tensor "b_enc" has shape [${bEnc.shape}], expected [F]`);
    const F = bEnc.shape[0]!;
    const W_enc = featureMajor(need('W_enc'), F, d, where, 'W_enc');
    const W_dec = featureMajor(need('W_dec'), F, d, where, 'W_dec');
    const b_dec = need('b_dec');
    expectShape(b_dec, [d], where, 'b_dec');
    const W_skip = read('W_skip');
    if (W_skip) expectShape(W_skip, [d, d], where, 'W_skip');
    const threshold = read('threshold', 'activation_function.threshold');
    if (threshold) expectShape(threshold, [F], where, file.has('threshold') ? 'threshold' : 'activation_function.threshold');
    return { layer: entry.layer, id: entry.id, path: entry.path, nFeatures: F, W_enc, W_dec, b_enc: bEnc, b_dec, W_skip, threshold };
  } finally {
    file.close();
  }
}

/** [F, d] as stored, or [d, F] (Gemma Scope) transposed to [F, d]. */
function featureMajor(t: Tensor, F: number, d: number, where: string, name: string): Tensor {
  const [a, b] = t.shape;
  if (t.shape.length === 2 && a === F && b === d) return t;
  if (t.shape.length === 2 && a === d && b === F) {
    const data = new Float32Array(F * d);
    for (let i = 0; i < d; i++) for (let f = 0; f < F; f++) data[f * d + i] = t.data[i * F + f]!;
    return { shape: [F, d], data };
  }
  throw new ModelError(`${where}: tensor "${name}" has shape [${t.shape.join(', ')}], expected [${F}, ${d}] (features × model width ${d}) or its transpose`);
}

function expectShape(t: Tensor, shape: number[], where: string, name: string): void {
  if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
    throw new ModelError(`${where}: tensor "${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}] for this model (width ${shape[shape.length - 1]})`);
  }
}

function checkFinite(t: Tensor, where: string, name: string): void {
  for (let i = 0; i < t.data.length; i++) {
    const v = t.data[i]!;
    if (!Number.isFinite(v)) {
      const at = t.shape.length === 2 ? `[${Math.floor(i / t.shape[1]!)}, ${i % t.shape[1]!}]` : `[${i}]`;
      throw new ModelError(`${where}: tensor "${name}" holds ${v} at ${at}; a transcoder's weights must be finite`);
    }
  }
}
