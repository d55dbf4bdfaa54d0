/**
 * The in-browser engine's Web Worker (created by client/state/engine-choice.ts). PLACEHOLDER until
 * the engine host lands: it sets up the transport (port-socket.ts), checks what the real engine
 * will need (the bundled model's files where asset-urls.ts says, WASM threads), and then says in
 * words that the engine is not built yet: as the server's status (the status bar shows it) and as
 * the answer to 'model:info'. So the whole path from the page to here runs and is tested.
 */
import { modelUrl } from './asset-urls.js';
import { workerPortSocket } from './port-socket.js';
import type { Ack, ModelInfo } from '../../shared/protocol.js';
import type { IndexStatus } from '../../shared/neuron-index.js';

const socket = workerPortSocket();

/** Whether the bundled model's config is reachable from the worker, in words. */
async function modelFilesWords(): Promise<string> {
  const url = new URL('config.json', modelUrl('brown-gpt2'));
  try {
    const response = await fetch(url);
    if (!response.ok) return `model files not found at ${url.pathname} (HTTP ${response.status})`;
    const config = (await response.json()) as { n_layer?: number };
    return `model files found at ${url.pathname}, ${config.n_layer ?? '?'} layers`;
  } catch (error) {
    return `model files not reachable at ${url.pathname} (${(error as Error).message})`;
  }
}

void modelFilesWords().then((files) => {
  const threads = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated ? 'WASM threads available' : 'WASM threads unavailable: the page is not cross-origin isolated';
  const words = `the in-browser engine is not built yet (${files}; ${threads})`;
  socket.on('model:info', (ack: Ack<ModelInfo>) => ack({ ok: false, error: { code: 'bad_request', message: words } }));
  // The corpus index is the server's: say so in the neuron panel rather than an unknown-event error.
  const noIndex: IndexStatus = { state: 'absent', corpus: '', done: 0, total: 0, tokensPerSecond: 0, etaSeconds: null, message: 'the corpus index is built by npm start; the in-browser engine has none' };
  socket.on('index:status', (ack: Ack<IndexStatus>) => ack({ ok: true, value: noIndex }));
  socket.open();
  socket.emit('server:status', { state: 'error', message: words });
});
