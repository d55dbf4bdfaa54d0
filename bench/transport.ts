/**
 * Transport benchmark on GPT-2-small shapes (random weights): frames through socket.io over
 * loopback — bytes per frame, raw frame rate, and live generation (model + frames) in tokens/s.
 * Load: 50 clients each generating 16 tokens at once on the bundled model, through the real
 * `npm start` server (access checks, fair scheduler): time to each client's last token, p50/p95,
 * and how many failed.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../shared/protocol.js';
import { gpt2SmallSpec, randomDecoder } from '../shared/engine/random-decoder.js';
import { ModelRunner } from '../shared/engine/runner.js';
import type { Tokenizer } from '../shared/engine/decoder.js';
import { ModelHost } from '../shared/service/model-host.js';
import { attachSocketServer } from '../server/transport/socket-server.js';
import { encodeFrame } from '../shared/frame-codec.js';
import { row, type BenchRow } from './report.js';
import { defaultModel, startServer } from '../server/main.js';

/** Text ↔ ids for a random model: each word is a token id. */
const numberTokenizer: Tokenizer = {
  encode: (text) => text.trim().split(/\s+/).map((w) => Number(w) || 1), decode: (ids) => ids.join(' '),
  tokenString: (id) => ` ${id}`, vocabSize: 50257, bosId: null, eosId: null,
};

export async function benchTransport(): Promise<BenchRow[]> {
  const decoder = randomDecoder(gpt2SmallSpec());
  const runner = await ModelRunner.create(decoder);
  const host = new ModelHost('gpt2-small-random', { decoder, tokenizer: numberTokenizer }, runner);
  const http = createServer();
  const { io } = attachSocketServer(http, host);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const socket = connect(url, { transports: ['websocket'] });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));

  // Raw transport: the server pushes prebuilt frames (position 31, so 32 pattern columns).
  const { nLayers: L, dMlp: N, nHeads: H } = decoder.spec;
  const frame = encodeFrame({ position: 31, tokenId: 1, nLayers: L, neuronsPerLayer: N, nHeads: H,
    neurons: Float32Array.from({ length: L * N }, (_, i) => Math.sin(i)), attention: new Float32Array(L * H * 32).fill(1 / 32) });
  const count = 2000;
  const received = new Promise<number>((resolve) => {
    let n = 0;
    const t0 = performance.now();
    socket.on('run:frame', () => { if (++n === count) resolve((performance.now() - t0) / 1000); });
  });
  const [serverSocket] = await io.fetchSockets();
  for (let i = 0; i < count; i++) serverSocket!.emit('run:frame', 'bench', frame.buffer as ArrayBuffer);
  const seconds = await received;
  socket.off('run:frame');

  // Live generation: prompt of 32 tokens, 64 generated, one full frame per token.
  const tokens = 64;
  let firstAt = 0;
  const done = new Promise<number>((resolve) => {
    let n = 0;
    socket.on('generate:token', () => { if (++n === 1) firstAt = performance.now(); });
    socket.on('generate:done', () => resolve((performance.now() - firstAt) / 1000));
  });
  const prompt = Array.from({ length: 32 }, (_, i) => String(100 + i)).join(' ');
  await socket.emitWithAck('generate:start', { prompt, maxTokens: tokens + 1, temperature: 0 });
  const generationSeconds = await done;
  socket.disconnect();
  await new Promise<void>((resolve) => io.close(() => resolve()));
  await runner.dispose();
  return [
    ...(await benchLoad()),
    row('transport', 'bytes per frame (36,864 neurons + 32-position attention rows)', frame.byteLength, 'B', `${(frame.byteLength / (L * N)).toFixed(2)} B/neuron incl. attention`),
    row('transport', 'frames through socket.io (websocket, loopback, Node client)', count / seconds, 'frames/s'),
    row('transport', 'live generation with a frame per token (model + socket.io)', tokens / generationSeconds, 'tokens/s', 'target ≥ 25'),
  ];
}

/** The q-quantile of `values` (nearest rank). */
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

/** 50 clients × 16-token generations at once on the bundled model. */
export async function benchLoad(clients = 50, tokens = 16): Promise<BenchRow[]> {
  // All clients come from loopback: raise the per-address connection cap (default 32) above 50.
  const server = await startServer({
    model: defaultModel, port: 0, host: '127.0.0.1', device: 'cpu', https: false, serveClient: false, index: false,
    log: () => {}, maxConnectionsPerAddress: clients + 8,
  });
  const sockets = await Promise.all(Array.from({ length: clients }, async () => {
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = connect(server.url, { transports: ['websocket'], forceNew: true, reconnection: false });
    await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject); });
    return socket;
  }));
  const t0 = performance.now();
  const outcomes = await Promise.all(sockets.map((socket, k) => new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), 300_000);
    socket.on('error', () => { clearTimeout(timer); resolve(null); });
    socket.on('generate:done', (_id, reason) => { clearTimeout(timer); resolve(reason === 'length' || reason === 'eos' ? performance.now() - t0 : null); });
    socket.emit('generate:start', { prompt: `Client ${k} says that the`, maxTokens: tokens, temperature: 0 }, (response) => {
      if (!response.ok) { clearTimeout(timer); resolve(null); }
    });
  })));
  const wall = (performance.now() - t0) / 1000;
  for (const socket of sockets) socket.disconnect();
  await server.close();
  const times = outcomes.filter((t): t is number => t !== null);
  const errors = outcomes.length - times.length;
  return [
    row('load', `${clients} clients × ${tokens}-token generations at once (bundled model): p50 to the last token`, quantile(times, 0.5) / 1000, 's'),
    row('load', `${clients} clients × ${tokens}-token generations at once (bundled model): p95 to the last token`, quantile(times, 0.95) / 1000, 's'),
    row('load', `${clients} clients × ${tokens}-token generations: failed`, errors, 'clients', `of ${clients}; ${((times.length * tokens) / wall).toFixed(0)} tokens/s served in all`),
  ];
}
