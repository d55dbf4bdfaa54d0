/**
 * The prebuilt neuron index of the static build, read the in-browser engine's way: a small real
 * index (bundled model and transcoders, ~2,000 corpus tokens) built in a temp folder with the
 * server's NeuronIndex, copied by build:static's copyStaticIndex, served over HTTP (with and
 * without Range support), then opened by the worker's BrowserNeuronIndex (shared/neurons reader,
 * WebCrypto keys) with real fetches. Its neuron and feature details must be the server's, byte for
 * byte (JSON); a manifest or store of another model, corpus or budget is refused in words; with no
 * index the logit effects are still the server's. Also: the shared reader over bytes equals the
 * server's NeuronStore, and the shared keys equal the server's.
 */
import { copyFileSync, createReadStream, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserNeuronIndex, NO_STATIC_INDEX } from '../../../client/engine-worker/neuron-index.js';
import type { LoadedModel } from '../../../shared/engine/decoder.js';
import { bufferSource } from '../../../shared/engine/files.js';
import { modelKeyOf, tokenizerFingerprintOf, transcodersKeyOf, type StaticIndexManifest } from '../../../shared/neurons/static-index.js';
import { StoreReader } from '../../../shared/neurons/store-reader.js';
import { loadModel } from '../../../server/engine/load.js';
import { ExplanationStore } from '../../../server/neurons/explanations.js';
import { indexPaths } from '../../../server/neurons/indexer.js';
import { modelKey, tokenizerFingerprint } from '../../../server/neurons/keys.js';
import { NeuronIndex } from '../../../server/neurons/service.js';
import { NeuronStore } from '../../../server/neurons/store.js';
import { transcodersKey } from '../../../server/transcoders/feature-index.js';
import { bundledTranscoders, loadHostedTranscoders, type HostedTranscoders } from '../../../server/transcoders/live.js';
import { copyStaticIndex } from '../../../tools/static-index.js';
import { bundledModel, smallCorpus, tempDir } from './fixtures.js';

const BUDGET = 2048;
/** Neurons and features compared: corners and a few inside. */
const neurons: [number, number][] = [[0, 0], [0, 513], [1, 17], [2, 900], [3, 1023]];
const features: [number, number][] = [[0, 0], [1, 77], [3, 2047]];

let model: LoadedModel;
let transcoders: HostedTranscoders;
let indexDir: string;
let corpus: string;
let index: NeuronIndex;
let out: string;
let manifest: StaticIndexManifest;
const logs: string[] = [];
const servers: Server[] = [];

/** Serves `folder` over HTTP; with `ranges`, answers Range requests with 206 as most hosts do. */
async function serve(folder: string, ranges: boolean): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    const file = normalize(join(folder, decodeURIComponent(request.url!.split('?')[0]!)));
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      response.writeHead(404).end();
      return;
    }
    const range = ranges ? /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? '') : null;
    requests.push(`${range ? 206 : 200} ${request.url}${range ? ` ${range[1]}-${range[2]}` : ''}`);
    if (range) {
      const [start, end] = [Number(range[1]), Math.min(Number(range[2]), size - 1)];
      response.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': end - start + 1 });
      createReadStream(file, { start, end }).pipe(response);
    } else {
      response.writeHead(200, { 'Content-Length': size });
      createReadStream(file).pipe(response);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, requests };
}

const indexUrl = (base: string) => new URL('models/brown-gpt2/index/', base);
const json = (value: unknown) => JSON.stringify(value);

beforeAll(async () => {
  model = await loadModel(bundledModel);
  transcoders = await loadHostedTranscoders(bundledTranscoders(bundledModel)!, model.decoder);
  indexDir = tempDir('static-index');
  corpus = smallCorpus(indexDir).path;
  index = new NeuronIndex(model, { indexDir, corpus, tokens: BUDGET, transcoders });
  const steps = await index.prepareBuild();
  while (steps && await steps.step());
  expect(index.status().state).toBe('ready');
  // Explanations for a neuron and a feature, imported as the CLI does.
  new ExplanationStore(indexPaths(indexDir, index.modelKey!, '').explanations).import([
    { layer: 1, index: 17, text: 'test explanation of neuron 1/17', score: 0.5, source: 'test' },
    { layer: 1, index: 77, feature: true, text: 'test explanation of feature 1/77', score: null, source: 'test' },
  ]);
  out = tempDir('static-out');
  manifest = (await copyStaticIndex({ model: bundledModel, modelOut: join(out, 'models/brown-gpt2'), indexDir, corpus, tokens: BUDGET, log: (m) => logs.push(m) }))!;
}, 240_000);

afterAll(async () => {
  for (const server of servers) server.close();
  await index?.dispose();
  await transcoders?.dispose();
});

describe('the static build\'s neuron index', () => {
  it('copies the ready stores with a manifest of the server\'s keys, and says so', () => {
    expect(manifest, logs.join('\n')).not.toBeNull();
    expect(logs.join('\n')).toMatch(/^neuron index included: .*4 layers × 1024 neurons, 4 × 2048 features, explanations\), [\d.]+ MB/m);
    expect(manifest.modelKey).toBe(index.modelKey);
    expect(manifest.neurons.header.corpusKey).toBe(manifest.corpusKey);
    expect(readFileSync(join(out, 'models/brown-gpt2/index/neurons.nidx')).equals(readFileSync(index.storePath!))).toBe(true);
    expect(readFileSync(join(out, 'models/brown-gpt2/index/features.fidx')).equals(readFileSync(index.featureStorePath!))).toBe(true);
  });

  it('computes the server\'s model key and tokenizer fingerprint with WebCrypto', async () => {
    expect(await modelKeyOf(model.decoder)).toBe(await modelKey(model.decoder, tempDir('keys')));
    expect(await tokenizerFingerprintOf(model.tokenizer)).toBe(tokenizerFingerprint(model.tokenizer));
    expect(await transcodersKeyOf(transcoders.set)).toBe(await transcodersKey(transcoders.set, tempDir('keys')));
    expect(manifest.features!.transcodersKey).toBe(await transcodersKeyOf(transcoders.set));
  });

  it('reads every record over bytes exactly as the server\'s store does', () => {
    const bytes = readFileSync(index.storePath!);
    const shared = StoreReader.open(bufferSource(bytes, 'neurons.nidx'), 'neurons.nidx', { modelKey: index.modelKey! });
    const server = NeuronStore.open(index.storePath!);
    expect(shared.layout.headBytes).toBe(server.headBytes);
    for (let g = 0; g < 4096; g += 37) expect(json(shared.read(g >> 10, g & 1023))).toBe(json(server.read(g >> 10, g & 1023)));
    server.close();
  });

  for (const ranges of [true, false]) {
    it(`answers neuron and feature details as the server does, from a host ${ranges ? 'with Range requests (head, then one record each)' : 'without Range support (the whole file once)'}`, async () => {
      const { url, requests } = await serve(out, ranges);
      const browser = await BrowserNeuronIndex.open(indexUrl(url), model, transcoders.set);
      expect(browser.status()).toEqual({ ...index.status(), message: undefined });
      expect(browser.noFeatures).toBeNull();
      for (const [layer, i] of neurons) {
        const ours = await browser.details(layer, i);
        expect(ours.indexed).not.toBeNull();
        expect(json(ours)).toBe(json(index.details(layer, i)));
      }
      expect((await browser.details(1, 17)).explanation?.text).toBe('test explanation of neuron 1/17');
      for (const [layer, i] of features) {
        const stored = index.featureDetails(layer, i)!;
        const explanation = await index.featureExplanation(layer, i);
        expect(json(await browser.featureDetails(layer, i))).toBe(json({ ...stored, explanation }));
      }
      expect((await browser.featureDetails(1, 77))?.explanation?.text).toBe('test explanation of feature 1/77');
      const storeRequests = requests.filter((r) => r.includes('neurons.nidx'));
      if (ranges) {
        expect(storeRequests[0]).toBe(`206 /models/brown-gpt2/index/neurons.nidx 0-${manifest.neurons.headBytes - 1}`);
        expect(storeRequests.length).toBe(1 + neurons.length + 1);
      } else {
        expect(storeRequests).toEqual(['200 /models/brown-gpt2/index/neurons.nidx']);
      }
      // Without the transcoders it was built with, the feature store is not served.
      const noSet = await BrowserNeuronIndex.open(indexUrl(url), model);
      expect(noSet.status().state).toBe('ready');
      expect(await noSet.featureDetails(1, 77)).toBeNull();
      expect(noSet.noFeatures).toBe('no transcoders are loaded');
    });
  }

  it('without an index, answers logit effects computed on demand and indexed: null, as the server before its index', async () => {
    const { url } = await serve(tempDir('empty-static'), false);
    const browser = await BrowserNeuronIndex.open(indexUrl(url), model);
    expect(browser.status()).toMatchObject({ state: 'absent', message: NO_STATIC_INDEX });
    const before = new NeuronIndex(model, { indexDir: tempDir('no-index'), corpus, tokens: BUDGET });
    for (const [layer, i] of neurons) {
      const ours = await browser.details(layer, i);
      expect(ours.indexed).toBeNull();
      expect(ours.promoted.length).toBe(10);
      expect(json(ours)).toBe(json(before.details(layer, i)));
    }
    await expect(browser.details(4, 0)).rejects.toThrow('layer must be an integer in 0..3, got 4');
  });

  it('refuses a stale index in words: other weights, another tokenizer, another transcoder set, a store of another corpus, damaged stores', async () => {
    const stale = tempDir('stale-static');
    const folder = join(stale, 'models/brown-gpt2/index');
    const write = (patch: (m: StaticIndexManifest) => void) => {
      copyStaticTree(join(out, 'models/brown-gpt2/index'), folder);
      const m = structuredClone(manifest);
      patch(m);
      writeFileSync(join(folder, 'manifest.json'), JSON.stringify(m));
    };
    const { url } = await serve(stale, true);
    const open = async () => (await BrowserNeuronIndex.open(indexUrl(url), model)).status();

    write((m) => { m.modelKey = 'f'.repeat(64); });
    expect(await open()).toMatchObject({ state: 'absent', message: expect.stringMatching(/^the prebuilt index was built for other weights \(model key ffffffffffff…, this model's is [0-9a-f]{12}…\); rebuild/) });
    write((m) => { m.tokenizerFingerprint = '0'.repeat(64); });
    expect((await open()).message).toMatch(/^the prebuilt index was built with another tokenizer/);
    write((m) => { m.features!.transcodersKey = '2'.repeat(64); });
    const otherSet = await BrowserNeuronIndex.open(indexUrl(url), model, transcoders.set);
    expect(otherSet.status().state).toBe('ready'); // the neurons are still served
    expect(otherSet.noFeatures).toMatch(/^the prebuilt index holds the features of other transcoders than the loaded ones/);
    write((m) => { m.corpusKey = '1'.repeat(64); });
    expect((await open()).message).toBe('the prebuilt corpus index is not served: /models/brown-gpt2/index/neurons.nidx: corrupt neuron index (built for another corpusKey); logit effects only');
    write(() => {});
    const damaged = readFileSync(join(folder, 'features.fidx'));
    damaged[100] ^= 1;
    writeFileSync(join(folder, 'features.fidx'), damaged);
    const badFeatures = await BrowserNeuronIndex.open(indexUrl(url), model, transcoders.set);
    expect(badFeatures.status().state).toBe('ready'); // the neurons are still served
    expect(badFeatures.noFeatures).toBe('its feature store is not served (/models/brown-gpt2/index/features.fidx: corrupt neuron index (header or directory checksum mismatch))');
    write(() => {});
    const bytes = readFileSync(join(folder, 'neurons.nidx'));
    bytes[100] ^= 1; // in the header JSON: its checksum no longer matches
    writeFileSync(join(folder, 'neurons.nidx'), bytes);
    expect((await open()).message).toContain('corrupt neuron index (header or directory checksum mismatch)');
  });

  it('build:static leaves out an index of another token budget or a missing folder, and says why', async () => {
    const lines: string[] = [];
    const modelOut = join(tempDir('other-budget'), 'models/brown-gpt2');
    expect(await copyStaticIndex({ model: bundledModel, modelOut, indexDir, corpus, tokens: BUDGET * 2, log: (m) => lines.push(m) })).toBeNull();
    expect(lines[0]).toMatch(/^no usable neuron index for brown-gpt2 in .* none built over .* with this tokenizer and 4096 tokens\): build one with `npm run cli -- index .*; the static app will show logit effects only$/);
    expect(await copyStaticIndex({ model: bundledModel, modelOut, indexDir: join(indexDir, 'missing'), log: (m) => lines.push(m) })).toBeNull();
    expect(lines[1]).toMatch(/^no neuron index for brown-gpt2 in .*missing: build one with/);
  });
});

function copyStaticTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const file of ['manifest.json', 'neurons.nidx', 'features.fidx', 'explanations.json']) copyFileSync(join(from, file), join(to, file));
}

describe('SHA-256 without WebCrypto (pages served over plain http)', () => {
  it('equals node:crypto on lengths around the block size, fed whole and in pieces', async () => {
    const { createHash, randomBytes } = await import('node:crypto');
    const { Sha256 } = await import('../../../shared/neurons/sha256.js');
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 100_003]) {
      const bytes = new Uint8Array(randomBytes(n));
      const expected = createHash('sha256').update(bytes).digest('hex');
      expect(new Sha256().update(bytes).hex(), `${n} bytes`).toBe(expected);
      const pieces = new Sha256();
      for (let at = 0; at < n; at += 37) pieces.update(bytes.subarray(at, at + 37));
      expect(pieces.hex(), `${n} bytes in pieces`).toBe(expected);
    }
  });

  it('gives the server\'s model key with no crypto.subtle', async () => {
    const subtle = Object.getOwnPropertyDescriptor(globalThis.crypto, 'subtle');
    Object.defineProperty(globalThis.crypto, 'subtle', { value: undefined, configurable: true });
    try {
      expect(globalThis.crypto.subtle).toBeUndefined();
      expect(await modelKeyOf(model.decoder)).toBe(manifest.modelKey);
      expect(await tokenizerFingerprintOf(model.tokenizer)).toBe(manifest.tokenizerFingerprint);
    } finally {
      if (subtle) Object.defineProperty(globalThis.crypto, 'subtle', subtle);
      else delete (globalThis.crypto as { subtle?: unknown }).subtle;
    }
    expect(globalThis.crypto.subtle).toBeDefined();
  });
});
