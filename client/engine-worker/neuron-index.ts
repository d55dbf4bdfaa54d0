/**
 * The corpus index in the in-browser engine: the prebuilt one that `npm run build:static` ships in
 * models/<name>/index/ (manifest.json, neurons.nidx, features.fidx, explanations.json; see
 * tools/static-index.ts), read with the server's own reader (shared/neurons/), so a neuron's
 * details are the server's, byte for byte. Opening fetches the manifest and each store's header
 * and directory (one ranged request; a host that ignores Range sends the whole file, which is
 * then kept), and checks the model the worker loaded against the manifest's keys (model key,
 * tokenizer fingerprint) and each store's header against the manifest: a stale index is refused
 * in words, never served. Each neuron is then one ranged request for its record.
 *
 * Without an index (no manifest, or refused) 'neuron:details' still answers, as the server does
 * before its index is ready: logit effects computed on demand (plain loops, about 10 ms for the
 * bundled model) and `indexed: null`.
 */
import { ModelError, type LoadedModel } from '../../shared/engine/decoder.js';
import { hookName } from '../../shared/engine/hooks.js';
import type { IndexStatus, NeuronDetails, NeuronExplanation, NeuronRequest } from '../../shared/neuron-index.js';
import type { FeatureDetails } from '../../shared/protocol.js';
import { storedFeatureDetails, TokenTexts, toIndexedNeuron, toLogitEffects } from '../../shared/neurons/details.js';
import { logitEffectsOf, type TokenEffects } from '../../shared/neurons/logit-effects.js';
import type { StoredNeuron } from '../../shared/neurons/record.js';
import { expectedHeader, modelKeyOf, parseExplanations, parseStaticIndexManifest, STATIC_INDEX_MANIFEST, staticIndexMismatch, tokenizerFingerprintOf, transcodersKeyOf, type StaticIndexManifest, type StaticIndexStore } from '../../shared/neurons/static-index.js';
import { StoreCorruptError, StoreLayout, type StoreHeader } from '../../shared/neurons/store-reader.js';
import type { FeatureDetailsSource } from '../../shared/service/feature-handlers.js';
import type { HandlerKit } from '../../shared/service/handlers.js';
import { checkObject, PayloadError } from '../../shared/service/validate.js';
import type { TranscoderSet } from '../../shared/transcoders/load.js';

/** What the neuron panel hears when the app has no prebuilt index. */
export const NO_STATIC_INDEX = 'this app has no prebuilt corpus index (npm run build:static includes one when npm start or `npm run cli -- index` has built it); logit effects only';

async function fetchOk(url: URL, init?: RequestInit): Promise<Response> {
  const response = await fetch(url, init);
  if (!response.ok) throw new Error(`${url.pathname}: HTTP ${response.status} ${response.statusText}`);
  return response;
}

/** One store among the app's files: its head read and checked, then a record per request. */
export class FetchedStore {
  private constructor(
    readonly layout: StoreLayout,
    private readonly url: URL,
    /** The whole file, when the host sent it all (no Range support). */
    private readonly whole: Uint8Array | null,
  ) {}

  get header(): StoreHeader {
    return this.layout.header;
  }

  static async open(url: URL, entry: StaticIndexStore, expected: Partial<StoreHeader>): Promise<FetchedStore> {
    const response = await fetchOk(url, { headers: { Range: `bytes=0-${entry.headBytes - 1}` } });
    const bytes = new Uint8Array(await response.arrayBuffer());
    const whole = response.status === 206 ? null : bytes;
    const readAt = (at: number, length: number) => bytes.subarray(at, at + length);
    const layout = StoreLayout.open(readAt, whole ? whole.byteLength : entry.bytes, url.pathname, expected);
    return new FetchedStore(layout, url, whole);
  }

  async read(layer: number, index: number): Promise<StoredNeuron> {
    const { g, offset, length } = this.layout.span(layer, index);
    let bytes: Uint8Array;
    if (this.whole) {
      bytes = this.whole.subarray(offset, offset + length);
    } else {
      const response = await fetchOk(this.url, { headers: { Range: `bytes=${offset}-${offset + length - 1}` } });
      bytes = new Uint8Array(await response.arrayBuffer());
      if (response.status !== 206) bytes = bytes.subarray(offset, offset + length); // the host changed its mind: the whole file
    }
    return this.layout.decode(g, bytes);
  }
}

export class BrowserNeuronIndex {
  private readonly texts: TokenTexts;
  private readonly onDemand = new Map<number, TokenEffects>();
  private current: IndexStatus;

  private constructor(
    readonly model: LoadedModel,
    private store: FetchedStore | null,
    private features: FetchedStore | null,
    private readonly explanations: ReturnType<typeof parseExplanations> | null,
    status: IndexStatus,
    /** Why the loaded transcoders' features are not served from the index (null when they are). */
    readonly noFeatures: string | null = null,
  ) {
    this.texts = new TokenTexts(model.tokenizer);
    this.current = status;
  }

  /** The index in `folder` (a model's index/ folder), or none: why is in the status. Its feature
   * store is served only for the transcoder set it was built with (`transcoders`, the loaded one). */
  static async open(folder: URL | null, model: LoadedModel, transcoders: TranscoderSet | null = null): Promise<BrowserNeuronIndex> {
    const absent = (message: string, corpus = '') => new BrowserNeuronIndex(model, null, null, null, {
      state: 'absent', corpus, done: 0, total: 0, tokensPerSecond: 0, etaSeconds: null, message,
    });
    if (!folder) return absent('a model loaded from files has no prebuilt corpus index; logit effects only');
    const manifestUrl = new URL(STATIC_INDEX_MANIFEST, folder);
    let manifest: StaticIndexManifest;
    try {
      const response = await fetch(manifestUrl);
      if (response.status === 404) return absent(NO_STATIC_INDEX);
      if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
      manifest = parseStaticIndexManifest(await response.text(), manifestUrl.pathname);
    } catch (error) {
      return absent(`the prebuilt corpus index could not be read: ${(error as Error).message}; logit effects only`);
    }
    try {
      const { decoder, tokenizer } = model;
      const mismatch = staticIndexMismatch(manifest, { modelKey: await modelKeyOf(decoder), tokenizerFingerprint: await tokenizerFingerprintOf(tokenizer) });
      if (mismatch) return absent(`${mismatch}; logit effects only`, manifest.corpus);
      const store = await FetchedStore.open(new URL(manifest.neurons.file, folder), manifest.neurons, expectedHeader(manifest, 'neurons', decoder.spec));
      let features: FetchedStore | null = null;
      let noFeatures: string | null = null;
      if (!transcoders) {
        noFeatures = 'no transcoders are loaded';
      } else if (!manifest.features) {
        noFeatures = 'the prebuilt index has no features (npm start or `npm run cli -- index` indexes them when the model has transcoders; then npm run build:static)';
      } else if (await transcodersKeyOf(transcoders) !== manifest.features.transcodersKey) {
        noFeatures = 'the prebuilt index holds the features of other transcoders than the loaded ones; rebuild the static app after indexing these';
      } else {
        // A bad feature store costs the features only: the neurons are still served.
        features = await FetchedStore.open(new URL(manifest.features.file, folder), manifest.features, expectedHeader(manifest, 'features', { nLayers: transcoders.layers.length, dMlp: transcoders.layers[0]!.nFeatures }))
          .catch((error: Error) => {
            noFeatures = `its feature store is not served (${error.message})`;
            return null;
          });
      }
      const explanations = manifest.explanations ? parseExplanations(await (await fetchOk(new URL(manifest.explanations, folder))).text()) : null;
      const total = store.header.contexts * store.header.contextLength;
      return new BrowserNeuronIndex(model, store, features, explanations, {
        state: 'ready', corpus: manifest.corpus, done: total, total, tokensPerSecond: 0, etaSeconds: null,
      }, noFeatures);
    } catch (error) {
      return absent(`the prebuilt corpus index is not served: ${(error as Error).message}; logit effects only`, manifest.corpus);
    }
  }

  status(): IndexStatus {
    return { ...this.current };
  }

  /** Everything known of one neuron, as the server's NeuronIndex.details answers it. */
  async details(layer: number, index: number): Promise<NeuronDetails> {
    const { nLayers, dMlp } = this.model.decoder.spec;
    if (!(Number.isInteger(layer) && layer >= 0 && layer < nLayers)) throw new ModelError(`layer must be an integer in 0..${nLayers - 1}, got ${layer}`);
    if (!(Number.isInteger(index) && index >= 0 && index < dMlp)) throw new ModelError(`neuron index must be an integer in 0..${dMlp - 1}, got ${index}`);
    let effects: TokenEffects | null = null;
    let indexed: NeuronDetails['indexed'] = null;
    if (this.store) {
      try {
        const record = await this.store.read(layer, index);
        indexed = toIndexedNeuron(record, this.texts);
        effects = record;
      } catch (error) {
        if (!(error instanceof StoreCorruptError)) throw error;
        this.store = null;
        this.current = { ...this.current, state: 'absent', done: 0, message: `${error.message}; logit effects only` };
      }
    }
    effects ??= this.effectsOnDemand(layer, index);
    return {
      layer, index, hook: hookName.mlpPost(layer),
      promoted: toLogitEffects(effects.promoted, this.texts), suppressed: toLogitEffects(effects.suppressed, this.texts),
      indexed, explanation: this.explanations?.neuron(layer, index) ?? null,
    };
  }

  /** A transcoder feature from the index (source 'index'), or null without a feature store. */
  async featureDetails(layer: number, index: number): Promise<(FeatureDetails & { explanation: NeuronExplanation | null }) | null> {
    const store = this.features;
    if (!store || layer < 0 || layer >= store.header.nLayers || index < 0 || index >= store.header.dMlp) return null;
    try {
      const details = storedFeatureDetails(await store.read(layer, index), layer, index, this.texts, store.header.corpus);
      return { ...details, explanation: this.explanations?.feature(layer, index) ?? null };
    } catch (error) {
      if (!(error instanceof StoreCorruptError)) throw error;
      this.features = null;
      return null;
    }
  }

  private effectsOnDemand(layer: number, index: number): TokenEffects {
    const g = layer * this.model.decoder.spec.dMlp + index;
    let effects = this.onDemand.get(g);
    if (!effects) {
      effects = logitEffectsOf(this.model.decoder, this.model.tokenizer.vocabSize, layer, index);
      if (this.onDemand.size >= 4096) this.onDemand.delete(this.onDemand.keys().next().value!);
      this.onDemand.set(g, effects);
    }
    return effects;
  }
}

/** Why building or cancelling an index is not for this engine. */
export const INDEX_BUILD_ELSEWHERE = 'the in-browser engine reads a prebuilt corpus index only; build one with npm start or `npm run cli -- index`, then npm run build:static';

/**
 * 'index:status' and 'neuron:details' (the server's shapes and checks, server/transport/
 * neuron-handlers.ts) from `index`, a promise so the model is served while the index opens.
 */
export function registerNeuronIndexHandlers({ on, toError }: HandlerKit, model: LoadedModel, index: Promise<BrowserNeuronIndex>): void {
  const { nLayers, dMlp } = model.decoder.spec;
  on('neuron:details', true, (payload, ack) => {
    const request = checkObject<NeuronRequest>('neuron:details', payload, {
      layer: { kind: 'integer', min: 0, max: nLayers - 1 },
      index: { kind: 'integer', min: 0, max: dMlp - 1 },
    });
    index.then((neurons) => neurons.details(request.layer, request.index)).then(
      (details) => ack!({ ok: true, value: details }),
      (error: unknown) => ack!({ ok: false, error: toError(error) }),
    );
  });

  on('index:status', true, (payload, ack) => {
    if (payload !== undefined) throw new PayloadError('index:status: takes no payload');
    void index.then((neurons) => ack!({ ok: true, value: neurons.status() }));
  });
}

/** 'feature:details' answers from the index (shared/service/feature-handlers.ts validates the
 * request against the loaded transcoders); without a feature store for them, why in words (this
 * engine does not scan the corpus for a feature on demand). */
export function staticFeatureDetails(index: Promise<BrowserNeuronIndex>): FeatureDetailsSource {
  return (kit, request, ack) => {
    index.then(async (neurons) => {
      const details = await neurons.featureDetails(request.layer, request.index);
      if (details) return details;
      const why = neurons.noFeatures ?? neurons.status().message ?? 'the prebuilt index could not be read';
      throw new PayloadError(`feature:details: feature details need the corpus index, and here ${why}`);
    }).then(
      (details) => ack({ ok: true, value: details }),
      (error: unknown) => ack({ ok: false, error: kit.toError(error) }),
    );
  };
}
