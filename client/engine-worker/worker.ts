/**
 * The in-browser engine's Web Worker (created by client/state/engine-choice.ts): loads the
 * bundled model from the app's own files (asset-urls.ts), registers onnxruntime-web as the
 * engine's runtime (web-runtime.ts), then serves the page the same events as the server
 * (engine-host.ts) over postMessage (port-socket.ts). Loading takes a few seconds: the status
 * bar says "Loading model…" until the hello; a failure is said in words, as the server's status
 * and as the answer to every request.
 *
 * The page passes its options in the worker's name: `circuits-engine {"device":"wasm"}`.
 */
import { ModelError } from '../../shared/engine/decoder.js';
import { memoryFiles } from '../../shared/engine/files.js';
import { loadHfFiles } from '../../shared/engine/loaders/hf.js';
import type { ErrorEvent } from '../../shared/protocol.js';
import { BUNDLED_MODEL, modelUrl, ortWasmUrl } from './asset-urls.js';
import { serveModel } from './engine-host.js';
import { workerPortSocket } from './port-socket.js';
import { registerWebRuntime, type DevicePreference } from './web-runtime.js';

const socket = workerPortSocket();

/** Options the page put in the worker's name (see engine-choice.ts). */
function workerOptions(): { device: DevicePreference } {
  const name = (globalThis as { name?: string }).name ?? '';
  const json = name.slice(name.indexOf(' ') + 1);
  try {
    const parsed = name.includes(' ') ? (JSON.parse(json) as { device?: string }) : {};
    const device = parsed.device === 'wasm' || parsed.device === 'webgpu' ? parsed.device : 'auto';
    return { device };
  } catch {
    return { device: 'auto' };
  }
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
  const notices: string[] = [];
  const onNotice = (message: string) => {
    notices.push(message);
    socket.emit('error', { code: 'internal', message });
  };
  const runtime = await registerWebRuntime(ortWasmUrl(), workerOptions().device, onNotice);
  const folder = modelUrl(BUNDLED_MODEL);
  const fetched = await fetchModelFiles(folder, ['config.json', 'model.safetensors'], ['tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt']);
  const model = loadHfFiles(memoryFiles(folder.pathname.replace(/\/$/, ''), fetched));
  fetched.clear(); // the decoder holds its own Float32Arrays
  await serveModel(socket, BUNDLED_MODEL, model, runtime, onNotice);
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
