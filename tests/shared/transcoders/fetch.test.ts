/**
 * Issue 14: the in-browser engine fetches a transcoder folder over HTTP (shared/transcoders/fetch.ts)
 * and loads it through the shared loader. Served here by a plain static file server on a free
 * port (node:http, no app code): the bundled set arrives whole and equals the folder load; a
 * model without transcoders (404, or a dev server's HTML page) gives null; a missing layer file
 * and a server error are named in words with their URLs.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../../server/engine/load.js';
import { loadTranscoderSet as loadTranscoderFolder } from '../../../server/transcoders/load.js';
import type { LoadedModel } from '../../../shared/engine/decoder.js';
import { fetchTranscoderFiles } from '../../../shared/transcoders/fetch.js';
import { HostedTranscoders } from '../../../shared/transcoders/live.js';
import { loadTranscoderSet } from '../../../shared/transcoders/load.js';

const setDir = fileURLToPath(new URL('../../../assets/models/brown-gpt2/transcoders', import.meta.url));
let model: LoadedModel;
let root: string;
let server: Server;
let base: URL;
const requested: string[] = [];

beforeAll(async () => {
  model = await loadModel(join(setDir, '..'));
  // models/full: the bundled set; models/partial: without layer_2; models/none: no transcoders.
  root = mkdtempSync(join(tmpdir(), 'transcoders-http-'));
  for (const [name, skip] of [['full', ''], ['partial', 'layer_2.safetensors']] as const) {
    mkdirSync(join(root, 'models', name, 'transcoders'), { recursive: true });
    for (const file of ['config.yaml', 'layer_0.safetensors', 'layer_1.safetensors', 'layer_2.safetensors', 'layer_3.safetensors', 'TRANSCODERS_CARD.md']) {
      if (file !== skip) copyFileSync(join(setDir, file), join(root, 'models', name, 'transcoders', file));
    }
  }
  mkdirSync(join(root, 'models', 'none'), { recursive: true });
  server = createServer((request, response) => {
    const url = new URL(request.url!, 'http://x');
    requested.push(url.pathname);
    if (url.pathname.startsWith('/broken/')) return void response.writeHead(500).end('disk on fire');
    const path = join(root, decodeURIComponent(url.pathname));
    if (existsSync(path) && statSync(path).isFile()) {
      response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(path));
    } else if (url.pathname.startsWith('/spa/')) {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>app</title>');
    } else {
      response.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  rmSync(root, { recursive: true, force: true });
});

const bytesOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('fetchTranscoderFiles', () => {
  it('fetches the bundled set (config and its four layers only), equal to the folder load', async () => {
    requested.length = 0;
    const folder = new URL('models/full/transcoders/', base);
    const files = await fetchTranscoderFiles(folder, model.decoder.spec.nLayers);
    expect(files).not.toBeNull();
    expect(requested.sort()).toEqual(['config.yaml', 'layer_0.safetensors', 'layer_1.safetensors', 'layer_2.safetensors', 'layer_3.safetensors']
      .map((n) => `/models/full/transcoders/${n}`));
    const fetched = loadTranscoderSet(files!, model.decoder.spec);
    const local = loadTranscoderFolder(setDir, model.decoder.spec);
    expect(fetched.source).toBe(`${folder.href}config.yaml`);
    expect(fetched.layers[2]!.path).toBe(`${folder.href}layer_2.safetensors`);
    expect({ ...fetched, source: '', layers: [] }).toEqual({ ...local, source: '', layers: [] });
    fetched.layers.forEach((t, l) => {
      const u = local.layers[l]!;
      for (const name of ['W_enc', 'W_dec', 'b_enc', 'b_dec', 'W_skip', 'threshold'] as const) {
        expect(t[name]?.shape, `layer ${l} ${name}`).toEqual(u[name]?.shape);
        expect(bytesOf(t[name]!.data).equals(bytesOf(u[name]!.data)), `layer ${l} ${name} bytes`).toBe(true);
      }
    });
    const hosted = await HostedTranscoders.load(files!, model.decoder);
    expect(hosted.info().featuresPerLayer).toEqual(local.layers.map((t) => t.nFeatures));
    await hosted.dispose();
  });

  it('gives null for a model without transcoders, served as 404 or as a dev server’s HTML page', async () => {
    expect(await fetchTranscoderFiles(new URL('models/none/transcoders/', base), 4)).toBeNull();
    expect(await fetchTranscoderFiles(new URL('spa/models/none/transcoders/', base), 4)).toBeNull();
  });

  it('names a missing layer file and a server error in words, with their URLs', async () => {
    const folder = new URL('models/partial/transcoders/', base);
    const files = await fetchTranscoderFiles(folder, 4);
    await expect(HostedTranscoders.load(files!, model.decoder))
      .rejects.toThrow(`${folder.href}config.yaml: transcoder file not found: ${folder.href}layer_2.safetensors`);
    await expect(fetchTranscoderFiles(new URL('broken/transcoders/', base), 4))
      .rejects.toThrow(`${base.href}broken/transcoders/config.yaml: cannot fetch the transcoder file (HTTP 500)`);
  });
});
