/**
 * A prebuilt neuron index shipped with the static build (`npm run build:static` copies the
 * server's ready stores into models/<name>/index/): its manifest, and the checks that keep a
 * stale store from being served. The keys are the server's (server/neurons/keys.ts): the model
 * key (sha256 over the decoder's spec and every weight), the tokenizer's fingerprint (every
 * token's text, BOS/EOS and a probe encoding), the corpus key (a hash of the token stream, in
 * each store's header) and, for the features, the transcoder set's key. Here they are computed
 * with WebCrypto (or sha256.ts where a page served over plain http has none), so the in-browser engine checks the model it loaded against the manifest; the
 * tests check that both ways give the same keys.
 */
import type { Decoder, Tensor, Tokenizer } from '../engine/decoder.js';
import type { TranscoderSet } from '../transcoders/load.js';
import type { NeuronExplanation } from '../neuron-index.js';
import { Sha256 } from './sha256.js';
import type { StoreHeader } from './store-reader.js';

export const STATIC_INDEX_VERSION = 1;
/** The manifest's name in models/<name>/index/. */
export const STATIC_INDEX_MANIFEST = 'manifest.json';

export interface StaticIndexStore {
  /** File name in the index folder. */
  file: string;
  /** Its size, and the bytes up to the end of its directory (one ranged read opens it). */
  bytes: number;
  headBytes: number;
  header: StoreHeader;
}

export interface StaticIndexManifest {
  version: number;
  /** The model folder's name (models/<model>/). */
  model: string;
  modelKey: string;
  tokenizerFingerprint: string;
  /** The corpus, for people (its name and token budget), its key, and the tokens indexed. */
  corpus: string;
  corpusKey: string;
  tokens: number;
  neurons: StaticIndexStore;
  /** The model's transcoders' features, when the server indexed them. */
  features: (StaticIndexStore & { transcodersKey: string }) | null;
  /** The server's imported explanations (explanations.json), when it has any. */
  explanations: string | null;
}

/** A manifest read from JSON, with its fields checked (a wrong one is named). */
export function parseStaticIndexManifest(text: string, where: string): StaticIndexManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${where}: not valid JSON (${(error as Error).message})`);
  }
  const m = value as Partial<StaticIndexManifest> | null;
  if (!m || typeof m !== 'object' || Array.isArray(m)) throw new Error(`${where}: expected a JSON object`);
  if (m.version !== STATIC_INDEX_VERSION) throw new Error(`${where}: manifest version ${String(m.version)}, this build reads ${STATIC_INDEX_VERSION} (rebuild it with npm run build:static)`);
  for (const key of ['model', 'modelKey', 'tokenizerFingerprint', 'corpus', 'corpusKey'] as const) {
    if (typeof m[key] !== 'string') throw new Error(`${where}: "${key}" must be a string`);
  }
  const store = (s: unknown, name: string) => {
    const e = s as Partial<StaticIndexStore> | null;
    if (!e || typeof e.file !== 'string' || !/^[\w.-]+$/.test(e.file) || !Number.isSafeInteger(e.bytes) || !Number.isSafeInteger(e.headBytes) || !e.header || typeof e.header !== 'object') {
      throw new Error(`${where}: "${name}" must be {file, bytes, headBytes, header}`);
    }
  };
  store(m.neurons, 'neurons');
  if (m.features != null) {
    store(m.features, 'features');
    if (typeof m.features.transcodersKey !== 'string') throw new Error(`${where}: "features.transcodersKey" must be a string`);
  }
  if (m.explanations != null && (typeof m.explanations !== 'string' || !/^[\w.-]+$/.test(m.explanations))) throw new Error(`${where}: "explanations" must be a file name`);
  return { ...m, features: m.features ?? null, explanations: m.explanations ?? null } as StaticIndexManifest;
}

const short = (key: string) => `${key.slice(0, 12)}…`;

/**
 * Why this manifest does not describe an index of `keys`' model (null when it does): the words
 * the page shows instead of serving a stale index.
 */
export function staticIndexMismatch(manifest: StaticIndexManifest, keys: { modelKey: string; tokenizerFingerprint: string }): string | null {
  const rebuild = 'rebuild the static app (npm run build:static) after building the index for this model';
  if (manifest.modelKey !== keys.modelKey) return `the prebuilt index was built for other weights (model key ${short(manifest.modelKey)}, this model's is ${short(keys.modelKey)}); ${rebuild}`;
  if (manifest.tokenizerFingerprint !== keys.tokenizerFingerprint) return `the prebuilt index was built with another tokenizer (fingerprint ${short(manifest.tokenizerFingerprint)}, this one's is ${short(keys.tokenizerFingerprint)}); ${rebuild}`;
  return null;
}

/** The header fields a store of this manifest must have (StoreLayout.open's `expected`). */
export function expectedHeader(manifest: StaticIndexManifest, which: 'neurons' | 'features', shape: { nLayers: number; dMlp: number }): Partial<StoreHeader> {
  const expected: Partial<StoreHeader> = { modelKey: manifest.modelKey, corpusKey: manifest.corpusKey, nLayers: shape.nLayers, dMlp: shape.dMlp };
  if (which === 'features') expected.transcodersKey = manifest.features!.transcodersKey;
  return expected;
}

/** explanations.json (server/neurons/explanations.ts writes it): neurons' and features' rows. */
export function parseExplanations(text: string): { neuron(layer: number, index: number): NeuronExplanation | null; feature(layer: number, index: number): NeuronExplanation | null } {
  type Row = [number, number, string, number | null, string];
  const file = JSON.parse(text) as { explanations?: Row[]; features?: Row[] };
  const map = (rows: Row[] = []) => new Map(rows.map(([layer, index, text, score, source]) => [`${layer}:${index}`, { text, score, source }]));
  const neurons = map(file.explanations);
  const features = map(file.features);
  return {
    neuron: (layer, index) => neurons.get(`${layer}:${index}`) ?? null,
    feature: (layer, index) => features.get(`${layer}:${index}`) ?? null,
  };
}

/** sha256 of the parts in order: WebCrypto where the page has it (secure contexts), else Sha256. */
async function sha256Hex(parts: Uint8Array[]): Promise<string> {
  if (!globalThis.crypto?.subtle) {
    const hash = new Sha256();
    for (const p of parts) hash.update(p);
    return hash.hex();
  }
  let total = 0;
  for (const p of parts) total += p.byteLength;
  const all = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.byteLength;
  }
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** sha256 of `head` (as JSON) and every tensor's name, shape and bytes, in name order
 * (server/neurons/keys.ts hashTensors). */
function hashTensorsOf(head: unknown, tensors: Record<string, Tensor>): Promise<string> {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [encoder.encode(JSON.stringify(head))];
  for (const name of Object.keys(tensors).sort()) {
    const { shape, data } = tensors[name]!;
    parts.push(encoder.encode(`${name}:${shape.join(',')};`), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return sha256Hex(parts);
}

/** The model key as the server computes it (server/neurons/keys.ts hashWeights). */
export function modelKeyOf(decoder: Decoder): Promise<string> {
  return hashTensorsOf(decoder.spec, decoder.weights);
}

/** A transcoder set's key as the server computes it (server/transcoders/feature-index.ts transcodersKey). */
export function transcodersKeyOf(set: TranscoderSet): Promise<string> {
  const tensors: Record<string, Tensor> = {};
  for (const t of set.layers) {
    for (const [name, tensor] of Object.entries({ W_enc: t.W_enc, W_dec: t.W_dec, b_enc: t.b_enc, b_dec: t.b_dec, W_skip: t.W_skip, threshold: t.threshold })) {
      if (tensor) tensors[`${t.layer}.${name}`] = tensor;
    }
  }
  return hashTensorsOf({ activation: set.activation, inputHook: set.inputHook, layers: set.layers.map((t) => t.nFeatures) }, tensors);
}

const PROBE = 'The quick brown fox, 1961: "Don\'t!" — naïve café 日本語 🙂\n\n  indented\tline.';

/** The tokenizer's fingerprint as the server computes it (server/neurons/keys.ts tokenizerFingerprint). */
export function tokenizerFingerprintOf(tokenizer: Tokenizer): Promise<string> {
  const texts: string[] = [JSON.stringify({ vocabSize: tokenizer.vocabSize, bos: tokenizer.bosId, eos: tokenizer.eosId })];
  for (let id = 0; id < tokenizer.vocabSize; id++) texts.push(`${tokenizer.tokenString(id)}\u0000`);
  try {
    texts.push(tokenizer.encode(PROBE).join(','));
  } catch {
    texts.push('cannot encode');
  }
  return sha256Hex([new TextEncoder().encode(texts.join(''))]);
}
