/**
 * `npm start`: loads the model (the bundled one by default), builds the client when it is
 * missing or stale, and serves it with socket.io on one port.
 *
 *   --model PATH  --tokenizer PATH  --port 8080  --host 127.0.0.1  --device cpu|cuda|webgpu  --https
 *   --corpus PATH  --index-tokens N  --index-dir DIR  --no-index   (the neuron index, see README)
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { ModelError } from './engine/decoder.js';
import { loadModel } from './engine/load.js';
import { devices, ModelRunner, type Device } from './engine/runner.js';
import { ModelHost } from './transport/model-host.js';
import { NeuronIndex } from './neurons/service.js';
import type { BuildOptions } from './neurons/indexer.js';
import { attachSocketServer } from './transport/socket-server.js';
import { staticHandler } from './transport/static-files.js';
import { certificate } from './transport/tls.js';

const root = new URL('../', import.meta.url).pathname;
export const defaultModel = join(root, 'assets/models/brown-gpt2');

class UsageError extends Error {}

/** WebXR controller profiles, served from the npm package so a headset never needs a CDN. */
export function xrProfilesDirectory(): string {
  return join(dirname(createRequire(import.meta.url).resolve('@webxr-input-profiles/assets/package.json')), 'dist', 'profiles');
}

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtime(join(path, name))), stat.mtimeMs);
}

/** Builds the client with Vite when dist/client is missing or older than its sources. */
export async function ensureClientBuilt(log: (m: string) => void): Promise<string> {
  const out = join(root, 'dist/client');
  const index = join(out, 'index.html');
  const sources = Math.max(newestMtime(join(root, 'client')), newestMtime(join(root, 'shared')), statSync(join(root, 'vite.config.ts')).mtimeMs);
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return out;
  log('building the client (first start or sources changed)...');
  const { build } = await import('vite');
  await build({ configFile: join(root, 'vite.config.ts'), logLevel: 'warn' });
  return out;
}

export interface StartOptions {
  model: string;
  tokenizer?: string;
  port: number;
  host: string;
  device: Device;
  https: boolean;
  /** Build and serve the browser client (tests of the socket API turn this off). */
  serveClient?: boolean;
  /** Build the neuron index in the background when no ready store exists (default true; `--no-index`
   * turns it off). A ready index is served either way; 'index:build' starts one on request. */
  index?: boolean;
  /** Where neuron index stores live (default `<repo>/.cache/neuron-index/`). */
  indexDir?: string;
  /** The index's corpus: a folder of .txt files or a .jsonl file (default: the bundled npm corpora). */
  corpus?: string;
  /** The index's token budget (default 1,000,000). */
  indexTokens?: number;
  /** Tuning of index builds (tests use small batches). */
  indexBuild?: BuildOptions;
  log?: (message: string) => void;
}

export async function startServer(options: StartOptions): Promise<{
  server: Server; url: string; host: ModelHost; neurons: NeuronIndex; close: () => Promise<void>;
}> {
  const log = options.log ?? ((m: string) => console.log(m));
  if (!existsSync(options.model)) {
    throw new ModelError(options.model === defaultModel
      ? `No default model is bundled at ${defaultModel}. Pass one with --model PATH (a Hugging Face GPT-2/Llama directory or a llama2.c .bin).`
      : `Model not found: ${options.model}`);
  }
  const clientDir = options.serveClient === false ? join(root, 'dist/none') : await ensureClientBuilt(log);
  log(`loading ${options.model} ...`);
  const model = await loadModel(options.model, { tokenizerPath: options.tokenizer });
  const runner = await ModelRunner.create(model.decoder, { device: options.device, onNotice: log });
  const host = new ModelHost(basename(options.model.replace(/\/+$/, '')), model, runner);
  const neurons = new NeuronIndex(model, {
    indexDir: options.indexDir, corpus: options.corpus, tokens: options.indexTokens, build: { device: options.device, ...options.indexBuild },
  });
  logIndexStates(neurons, log);
  const serveFiles = staticHandler(clientDir, { '/xr-profiles/': xrProfilesDirectory() });
  let server: Server;
  if (options.https) {
    const tls = await certificate(join(root, '.cache/tls'));
    if (tls.created) log('created a self-signed certificate in .cache/tls/ (your browser will ask you to accept it once)');
    server = createHttpsServer({ key: tls.key, cert: tls.cert }, serveFiles) as unknown as Server;
  } else {
    server = createHttpServer(serveFiles);
  }
  const { io } = attachSocketServer(server, host, neurons);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `${options.https ? 'https' : 'http'}://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}/`;
  void neurons.start(options.index !== false).catch((error: unknown) => log(`neuron index: ${(error as Error).message}`));
  return {
    server, url, host, neurons,
    close: async () => {
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await neurons.dispose();
      await runner.dispose();
    },
  };
}

/** One line on the console whenever the neuron index changes state. */
function logIndexStates(neurons: NeuronIndex, log: (message: string) => void): void {
  let last = neurons.status().state;
  neurons.onStatus((status) => {
    if (status.state === last) return;
    last = status.state;
    const done = status.total > 0 ? ` (${Math.round((100 * status.done) / status.total)}% of ${status.corpus})` : '';
    log(`neuron index: ${status.state}${status.state === 'building' || status.state === 'cancelled' ? done : ''}${status.message ? `: ${status.message}` : ''}`);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' }, tokenizer: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' },
      device: { type: 'string' }, https: { type: 'boolean' }, help: { type: 'boolean' },
      corpus: { type: 'string' }, 'index-tokens': { type: 'string' }, 'index-dir': { type: 'string' }, 'no-index': { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log('npm start -- [--model PATH] [--tokenizer PATH] [--port 8080] [--host 127.0.0.1] [--device cpu|cuda|webgpu] [--https]\n'
      + '             [--corpus PATH] [--index-tokens N] [--index-dir DIR] [--no-index]');
    return;
  }
  const port = Number(values.port ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number, got "${values.port}".`);
  const device = (values.device ?? 'cpu') as Device;
  if (!devices.includes(device)) throw new UsageError(`--device must be one of ${devices.join(', ')}, got "${values.device}".`);
  const indexTokens = values['index-tokens'] === undefined ? undefined : Number(values['index-tokens']);
  if (indexTokens !== undefined && !(Number.isInteger(indexTokens) && indexTokens > 0)) {
    throw new UsageError(`--index-tokens must be a positive integer, got "${values['index-tokens']}".`);
  }
  const { url, neurons } = await startServer({
    model: values.model ?? defaultModel, tokenizer: values.tokenizer, port, host: values.host ?? '127.0.0.1', device, https: values.https ?? false,
    index: !values['no-index'], indexDir: values['index-dir'], corpus: values.corpus, indexTokens,
  });
  console.log(`Circuits XR is serving at ${url}`);
  if (values.https) console.log('Headsets on your network: open https://<this machine\'s address>:' + port + '/ and accept the certificate, then Enter VR.');
  // Ctrl-C: a running index build finishes its step and checkpoints, so the next start resumes it.
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(130); // a second Ctrl-C does not wait
    stopping = true;
    if (neurons.status().state === 'building') console.log('stopping: checkpointing the neuron index (Ctrl-C again to quit at once)');
    void neurons.dispose().catch((error: unknown) => console.error(`neuron index: ${(error as Error).message}`)).finally(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(`error: ${(error as Error).message}`);
    if (!(error instanceof ModelError || error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) {
      if (process.env.DEBUG) console.error((error as Error).stack);
    }
    process.exit(1);
  });
}
