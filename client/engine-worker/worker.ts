/**
 * The in-browser engine's Web Worker (created by client/state/engine-choice.ts): loads the
 * bundled model from the app's own files (asset-urls.ts), registers onnxruntime-web as the
 * engine's runtime (web-runtime.ts), then serves the page the same events as the server
 * (engine-host.ts) over postMessage (port-socket.ts). Loading takes a few seconds: the status
 * bar says "Loading model…" until the hello; a failure is said in words, as the server's status
 * and as the answer to every request.
 *
 * The page passes its options in the worker's name: `circuits-engine {"device":"wasm"}`; with
 * `"model":"files"` the model comes from the page instead (a dropped folder), in the first
 * message (port-messages.ts, 'model-files').
 */
import { ModelError } from '../../shared/engine/decoder.js';
import { memoryFiles } from '../../shared/engine/files.js';
import type { LoadedModel } from '../../shared/engine/decoder.js';
import type { ModelFiles } from '../../shared/engine/files.js';
import { loadModelFiles } from '../../shared/engine/loaders/model-files.js';
import { fetchTranscoderFiles } from '../../shared/transcoders/fetch.js';
import { HostedTranscoders } from '../../shared/transcoders/live.js';
import type { ErrorEvent } from '../../shared/protocol.js';
import { BUNDLED_MODEL, modelUrl, ortWasmUrl } from './asset-urls.js';
import { hostModel, registerEngineHandlers } from './engine-host.js';
import { BrowserNeuronIndex } from './neuron-index.js';
import type { ModelFilesMessage } from './port-messages.js';
import { workerPortSocket } from './port-socket.js';
import { registerWebRuntime, type DevicePreference } from './web-runtime.js';

const socket = workerPortSocket();

export interface WorkerOptions {
  device: DevicePreference;
  /** WASM threads asked for (`?threads=N`), or null for one per core up to 4. */
  threads: number | null;
  /** The bundled model (fetched from the app's files), or files the page sends. */
  model: 'bundled' | 'files';
}

/** Options the page put in the worker's name (see engine-choice.ts). */
function workerOptions(): WorkerOptions {
  const name = (globalThis as { name?: string }).name ?? '';
  let parsed: { device?: string; threads?: unknown; model?: string } = {};
  try {
    if (name.includes(' ')) parsed = JSON.parse(name.slice(name.indexOf(' ') + 1)) as typeof parsed;
  } catch { /* a plain name: the defaults */ }
  return {
    device: parsed.device === 'wasm' || parsed.device === 'webgpu' ? parsed.device : 'auto',
    threads: typeof parsed.threads === 'number' && Number.isInteger(parsed.threads) && parsed.threads >= 1 ? parsed.threads : null,
    model: parsed.model === 'files' ? 'files' : 'bundled',
  };
}

/** The page's 'model-files' message (sent right after it made this worker). */
function modelFilesFromPage(): Promise<ModelFilesMessage> {
  return new Promise((resolve) => {
    const listener = (event: MessageEvent) => {
      const message = event.data as ModelFilesMessage | null;
      if (message?.kind !== 'model-files') return;
      globalThis.removeEventListener('message', listener);
      resolve(message);
    };
    globalThis.addEventListener('message', listener);
  });
}

/** A model folder's files, fetched: the required ones must exist, the optional ones may not. */
async function fetchModelFiles(folder: URL, required: string[], optional: string[]): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  await Promise.all([...required, ...optional].map(async (name) => {
    const url = new URL(name, folder);
    let response: Response;
    try {
      response = await fetch(url);
    } catch (error) {
      throw new ModelError(`${url.pathname}: could not be fetched (${(error as Error).message})`);
    }
    if (!response.ok) {
      if (optional.includes(name) && response.status === 404) return;
      throw new ModelError(`${url.pathname}: HTTP ${response.status} ${response.statusText} (the in-browser engine needs this file; is the app served with its models/ folder?)`);
    }
    files.set(name, new Uint8Array(await response.arrayBuffer()));
  }));
  return files;
}

async function start(): Promise<void> {
  // Notices (a device fallback, transcoders that did not load) go into model:info's
  // runtimeNotice, which the status bar shows; one after the start tells the page to ask again.
  const notices: string[] = [];
  const onNotice = (message: string) => {
    if (notices.includes(message)) return;
    notices.push(message);
    if (socket.connected) socket.emit('server:status', { state: 'ready', message });
  };
  // How long each step of the start takes, for model:info (the status bar's tooltip, the bench).
  const started = performance.now();
  let lapStart = started;
  const laps: string[] = [];
  const lap = (step: string) => {
    const now = performance.now();
    laps.push(`${step} ${((now - lapStart) / 1000).toFixed(1)} s`);
    lapStart = now;
  };
  const options = workerOptions();
  const runtime = await registerWebRuntime(ortWasmUrl(), options.device, onNotice, options.threads);
  lap('runtime');
  let name: string;
  let files: Map<string, Uint8Array>;
  let root: string;
  let transcoderFiles: (model: LoadedModel) => Promise<ModelFiles | null>;
  let indexFolder: URL | null = null;
  if (options.model === 'files') {
    const message = await modelFilesFromPage();
    name = message.name;
    root = message.name;
    files = new Map(Object.entries(message.files).map(([file, bytes]) => [file, new Uint8Array(bytes)]));
    // A dropped folder's transcoders/ subfolder, if it has one.
    const inFolder = new Map([...files].filter(([file]) => file.startsWith('transcoders/')).map(([file, bytes]) => [file.slice('transcoders/'.length), bytes]));
    transcoderFiles = async () => (inFolder.size > 0 ? memoryFiles(`${root}/transcoders`, inFolder) : null);
  } else {
    const folder = modelUrl(BUNDLED_MODEL);
    name = BUNDLED_MODEL;
    root = folder.pathname.replace(/\/$/, '');
    indexFolder = new URL('index/', folder); // a prebuilt corpus index, when build:static shipped one
    files = await fetchModelFiles(folder, ['config.json', 'model.safetensors'], ['tokenizer.json', 'tokenizer_config.json']);
    // A GPT-2-style vocab.json + merges.txt only where there is no tokenizer.json.
    if (!files.has('tokenizer.json')) for (const [file, bytes] of await fetchModelFiles(folder, [], ['vocab.json', 'merges.txt'])) files.set(file, bytes);
    transcoderFiles = (model) => fetchTranscoderFiles(new URL('transcoders/', folder), model.decoder.spec.nLayers);
  }
  lap('files');
  const model = loadModelFiles(memoryFiles(root, files), [...files.keys()]);
  files.clear(); // the decoder holds its own Float32Arrays
  lap('model');
  // Transcoders are an extra: a set that does not load is said once and the model runs without.
  let transcoders: HostedTranscoders | null = null;
  try {
    const found = await transcoderFiles(model);
    if (found) transcoders = await HostedTranscoders.load(found, model.decoder);
  } catch (error) {
    onNotice(`the model's transcoders were not loaded: ${(error as Error).message}`);
  }
  lap('transcoders');
  // Opening the index (fetches, key hashes) overlaps compiling the model's graphs.
  const index = BrowserNeuronIndex.open(indexFolder, model, transcoders?.set ?? null);
  const host = await hostModel(name, model, transcoders, runtime, onNotice, () => notices);
  lap('graphs');
  host.runtime!.load = `loaded in ${((performance.now() - started) / 1000).toFixed(1)} s: ${laps.join(', ')}`;
  registerEngineHandlers(socket, host, index);
  socket.open();
  socket.emit('server:status', { state: 'ready' });
}

start().catch((error: unknown) => {
  const words = `the in-browser engine could not start: ${(error as Error)?.message ?? String(error)}`;
  const answer: ErrorEvent = { code: 'internal', message: words };
  // Every request (model:info first) hears why; the status bar shows it.
  socket.onUnhandled((_event, ...args: unknown[]) => {
    const ack = args[args.length - 1];
    if (typeof ack === 'function') (ack as (response: unknown) => void)({ ok: false, error: answer });
  });
  socket.open();
  socket.emit('server:status', { state: 'error', message: words });
});
