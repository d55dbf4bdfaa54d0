/**
 * `npm start`: loads the model (the bundled one by default), builds the client when it is
 * missing or stale, and serves it with socket.io on one port.
 *
 *   --model PATH  --tokenizer PATH  --port 8080  --host 127.0.0.1  --device cpu|cuda|webgpu  --threads N  --https
 *   --corpus PATH  --index-tokens N  --index-dir DIR  --no-index   (the neuron index, see README)
 *   --token T  --allow-origin URL (repeatable)  --max-connections-per-address N   (access, see README)
 *   --present  --room-size N  --redis redis://host:port   (presentation rooms, see README)
 *   --transcoders DIR  --no-transcoders   (transcoder features; default: the model's own
 *                                           `transcoders/` folder when it has one)
 *
 * It prints the page's URL with the access token (as Jupyter does): whoever opens that link is the
 * operator; on a loopback-bound server others connect as viewers, beyond loopback they are refused.
 */
import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { ModelError } from '../shared/engine/decoder.js';
import { loadModel } from './engine/load.js';
import { devices, ModelRunner, type Device } from '../shared/engine/runner.js';
import { ModelHost } from '../shared/service/model-host.js';
import { NeuronIndex } from './neurons/service.js';
import type { BuildOptions } from './neurons/indexer.js';
import { attachSocketServer } from './transport/socket-server.js';
import { DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, isLoopbackHost, normalizeOrigin } from './transport/access.js';
import { staticHandler } from './transport/static-files.js';
import { browserEngineMounts } from './browser-engine-files.js';
import { certificate } from './transport/tls.js';
import { Rooms } from './rooms/rooms.js';
import { connectRedis } from './rooms/redis.js';
import { bundledTranscoders, HostedTranscoders, loadHostedTranscoders } from './transcoders/live.js';

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
  /** ONNX Runtime's threads per operator for every graph of the model (default: all cores). */
  threads?: number;
  /** Compile Explain's and Trace's graphs at start (default true; tests of other parts skip it). */
  warmAnalysis?: boolean;
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
  /** The access token (default: random at each start). */
  token?: string;
  /** Refuse connections without the token (default: when `host` is not a loopback address). */
  requireToken?: boolean;
  /** Origins allowed to open sockets besides the server's own pages. */
  allowOrigins?: string[];
  /** Socket connections one client address may hold (default 32). */
  maxConnectionsPerAddress?: number;
  /** Unfinished jobs per client before it is answered 'busy' (default 8). */
  maxPendingJobs?: number;
  /** Members per presentation room (default 200). */
  maxRoomMembers?: number;
  /** `redis://host:port`: rooms across server processes (socket.io's Redis Streams adapter). */
  redis?: string;
  /** A transcoder set (circuit-tracer layout) to trace over features and stream them live; false:
   * none; absent: the model's own `<model>/transcoders/` when it exists (a broken one is then
   * reported and skipped, while a named one that fails to load stops the start). */
  transcoders?: string | false;
  log?: (message: string) => void;
}

export async function startServer(options: StartOptions): Promise<{
  /** `url`: the server's address; `pageUrl`: the same with `?token=` (what `npm start` prints). */
  server: Server; url: string; pageUrl: string; token: string; requireToken: boolean;
  host: ModelHost; neurons: NeuronIndex; close: () => Promise<void>;
  /** Opens a presentation room: the presenter's and the audience's links. */
  openRoom: () => Promise<{ room: string; presenterUrl: string; audienceUrl: string }>;
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
  const runner = await ModelRunner.create(model.decoder, { device: options.device, threads: options.threads, onNotice: log });
  const transcoders = await loadServerTranscoders(options, model.decoder, log);
  const host = new ModelHost(basename(options.model.replace(/\/+$/, '')), model, runner, transcoders);
  const neurons = new NeuronIndex(model, {
    indexDir: options.indexDir, corpus: options.corpus, tokens: options.indexTokens, build: { device: options.device, threads: options.threads, ...options.indexBuild },
    transcoders, // their features are indexed with the neurons
  });
  logIndexStates(neurons, log);
  const serveFiles = staticHandler(clientDir, { '/xr-profiles/': xrProfilesDirectory(), ...browserEngineMounts(defaultModel) });
  let server: Server;
  if (options.https) {
    const tls = await certificate(join(root, '.cache/tls'));
    if (tls.created) log('created a self-signed certificate in .cache/tls/ (your browser will ask you to accept it once)');
    server = createHttpsServer({ key: tls.key, cert: tls.cert }, serveFiles) as unknown as Server;
  } else {
    server = createHttpServer(serveFiles);
  }
  const token = options.token ?? randomBytes(24).toString('base64url');
  const requireToken = options.requireToken ?? !isLoopbackHost(options.host);
  const redis = options.redis ? await connectRedis(options.redis) : null;
  const { io, rooms } = attachSocketServer(server, host, neurons, {
    token, requireToken, bindHost: options.host, allowOrigins: options.allowOrigins,
    maxConnectionsPerAddress: options.maxConnectionsPerAddress, maxPendingJobs: options.maxPendingJobs,
    adapter: redis?.adapter, rooms: { store: redis?.store, maxMembers: options.maxRoomMembers },
    warmAnalysis: options.warmAnalysis ?? true, onWarmError: (error) => log(`compiling the analysis graphs failed (Explain and Trace will try again): ${error.message}`),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `${options.https ? 'https' : 'http'}://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}/`;
  void neurons.start(options.index !== false).catch((error: unknown) => log(`neuron index: ${(error as Error).message}`));
  return {
    server, url, pageUrl: `${url}?token=${encodeURIComponent(token)}`, token, requireToken, host, neurons,
    openRoom: async () => {
      const { room, control } = await rooms.open();
      const links = Rooms.links(room, control, token);
      return { room, presenterUrl: url + links.presenterQuery, audienceUrl: url + links.audienceQuery };
    },
    close: async () => {
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await redis?.close();
      await neurons.dispose();
      await transcoders?.dispose();
      await runner.dispose();
    },
  };
}

/** The transcoders to serve (see StartOptions.transcoders), with one line saying what was loaded. */
async function loadServerTranscoders(options: StartOptions, decoder: Parameters<typeof HostedTranscoders.load>[1], log: (m: string) => void): Promise<HostedTranscoders | null> {
  if (options.transcoders === false) return null;
  const dir = options.transcoders ?? (statSync(options.model).isDirectory() ? bundledTranscoders(options.model) : null);
  if (!dir) return null;
  let hosted: HostedTranscoders;
  try {
    hosted = await loadHostedTranscoders(dir, decoder);
  } catch (error) {
    if (options.transcoders !== undefined || !(error instanceof ModelError)) throw error;
    log(`transcoders: not loaded, serving without features: ${error.message} (--no-transcoders skips them, --transcoders DIR names others)`);
    return null;
  }
  const info = hosted.info();
  const counts = [...new Set(info.featuresPerLayer)];
  log(`transcoders: ${info.featuresPerLayer.length} layers × ${counts.join('/')} features (${info.activation}${info.skip ? ', skip' : ''}) from ${info.source}`);
  return hosted;
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
      device: { type: 'string' }, threads: { type: 'string' }, https: { type: 'boolean' }, help: { type: 'boolean' },
      corpus: { type: 'string' }, 'index-tokens': { type: 'string' }, 'index-dir': { type: 'string' }, 'no-index': { type: 'boolean' },
      token: { type: 'string' }, 'allow-origin': { type: 'string', multiple: true }, 'max-connections-per-address': { type: 'string' },
      present: { type: 'boolean' }, 'room-size': { type: 'string' }, redis: { type: 'string' },
      transcoders: { type: 'string' }, 'no-transcoders': { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log('npm start -- [--model PATH] [--tokenizer PATH] [--port 8080] [--host 127.0.0.1] [--device cpu|cuda|webgpu] [--threads N] [--https]\n'
      + '             [--corpus PATH] [--index-tokens N] [--index-dir DIR] [--no-index]\n'
      + `             [--token T] [--allow-origin URL ...] [--max-connections-per-address N (default ${DEFAULT_MAX_CONNECTIONS_PER_ADDRESS})]\n`
      + '             [--transcoders DIR | --no-transcoders]\n\n'
      + 'Transcoders: a circuit-tracer transcoder set (config.yaml + one safetensors file per layer) lets the page trace over\n'
      + 'features and show live feature clouds. By default the model\'s own transcoders/ folder is loaded when it exists.\n\n'
      + 'Access: the printed link carries a random access token (--token sets it). Whoever opens it is the operator\n'
      + '(may build or cancel the neuron index). Bound to loopback (the default), pages opened without the token\n'
      + 'connect as viewers (run and generate for themselves); with --host 0.0.0.0 or any other address they are refused.\n'
      + 'Only the server\'s own pages may open sockets; --allow-origin URL adds a site (repeat for more).\n\n'
      + 'Presenting: --present opens a room and prints a presenter link (with its control token) and an audience link;\n'
      + '--room-size N caps a room\'s members (default 200); --redis redis://host:port shares rooms between server\n'
      + 'processes (socket.io\'s Redis Streams adapter), so followers on any process see the presenter.');
    return;
  }
  const port = Number(values.port ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number, got "${values.port}".`);
  const device = (values.device ?? 'cpu') as Device;
  if (!devices.includes(device)) throw new UsageError(`--device must be one of ${devices.join(', ')}, got "${values.device}".`);
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) throw new UsageError(`--threads must be a positive integer, got "${values.threads}".`);
  const indexTokens = values['index-tokens'] === undefined ? undefined : Number(values['index-tokens']);
  if (indexTokens !== undefined && !(Number.isInteger(indexTokens) && indexTokens > 0)) {
    throw new UsageError(`--index-tokens must be a positive integer, got "${values['index-tokens']}".`);
  }
  const token = values.token;
  if (token !== undefined && !/^[A-Za-z0-9._~-]{8,}$/.test(token)) {
    throw new UsageError('--token must be at least 8 characters from A-Z a-z 0-9 . _ ~ - (it goes in a URL)');
  }
  let allowOrigins: string[];
  try {
    allowOrigins = (values['allow-origin'] ?? []).map(normalizeOrigin);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const maxConnections = values['max-connections-per-address'] === undefined ? undefined : Number(values['max-connections-per-address']);
  if (maxConnections !== undefined && !(Number.isInteger(maxConnections) && maxConnections > 0)) {
    throw new UsageError(`--max-connections-per-address must be a positive integer, got "${values['max-connections-per-address']}".`);
  }
  const roomSize = values['room-size'] === undefined ? undefined : Number(values['room-size']);
  if (roomSize !== undefined && !(Number.isInteger(roomSize) && roomSize > 0)) {
    throw new UsageError(`--room-size must be a positive integer, got "${values['room-size']}".`);
  }
  if (values.redis !== undefined && !/^rediss?:\/\/./.test(values.redis)) {
    throw new UsageError(`--redis must be a URL like redis://127.0.0.1:6379, got "${values.redis}".`);
  }
  if (values['no-transcoders'] && values.transcoders !== undefined) throw new UsageError('--transcoders DIR and --no-transcoders contradict each other; give one.');
  const bindHost = values.host ?? '127.0.0.1';
  const started = await startServer({
    model: values.model ?? defaultModel, tokenizer: values.tokenizer, port, host: bindHost, device, threads, https: values.https ?? false,
    index: !values['no-index'], indexDir: values['index-dir'], corpus: values.corpus, indexTokens,
    token, allowOrigins, maxConnectionsPerAddress: maxConnections, maxRoomMembers: roomSize, redis: values.redis,
    transcoders: values['no-transcoders'] ? false : values.transcoders,
  });
  const { neurons } = started;
  const query = `?token=${encodeURIComponent(started.token)}`;
  const wildcard = bindHost === '0.0.0.0' || bindHost === '::';
  if (!wildcard) console.log(`Circuits XR is serving at ${started.pageUrl}`);
  else {
    const scheme = values.https ? 'https' : 'http';
    const port = new URL(started.url).port;
    const addresses = Object.values(networkInterfaces()).flat().filter((a) => a && !a.internal && (bindHost === '::' || a.family === 'IPv4'));
    console.log(`Circuits XR is serving on every address of this machine, port ${port}:`);
    console.log(`  on this machine: ${scheme}://localhost:${port}/${query}`);
    for (const a of addresses) console.log(`  on your network: ${scheme}://${a!.family === 'IPv6' ? `[${a!.address}]` : a!.address}:${port}/${query}`);
  }
  console.log(started.requireToken
    ? 'Open the link with its token; connections without it are refused. Anyone holding the link can use the server and build its index.'
    : 'The link makes you the operator; pages opened without the token connect as viewers (they cannot build or cancel the index).');
  if (values.present) {
    // Exactly these two lines: scripts and the README read them.
    const links = await started.openRoom();
    // Bound to every address: links name this machine's first network address, for the LAN.
    const lan = wildcard ? Object.values(networkInterfaces()).flat().find((a) => a && !a.internal && a.family === 'IPv4')?.address : undefined;
    const onLan = (link: string) => (lan ? link.replace(/^(https?:\/\/)[^/]+(:\d+\/)/, `$1${lan}$2`) : link);
    console.log(`presenter link: ${onLan(links.presenterUrl)}`);
    console.log(`audience link: ${onLan(links.audienceUrl)}`);
  }
  if (values.https) console.log('Headsets on your network: open the https link above (with its ?token=) in the headset\'s browser, accept the certificate once, then Enter VR.');
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
