/**
 * Rendering benchmark in headless Chromium (software WebGL: SwiftShader, so absolute frame
 * times are far above a real GPU's): draw calls per frame (renderer.info) and JS time per frame
 * while activation frames stream in, for GPT-2-small shapes (a real server with random weights,
 * generating) and GPT-2-XL shapes (48 × 6400 = 307,200 neurons: frames of that shape streamed by
 * the same socket.io protocol; the XL model itself is not needed to measure the client).
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as SocketServer } from 'socket.io';
import { ensureClientBuilt, xrProfilesDirectory } from '../server/main.js';
import { gpt2SmallSpec, randomDecoder } from '../server/engine/random-decoder.js';
import { ModelRunner } from '../server/engine/runner.js';
import type { Tokenizer } from '../server/engine/decoder.js';
import { ModelHost } from '../server/transport/model-host.js';
import { attachSocketServer } from '../server/transport/socket-server.js';
import { staticHandler } from '../server/transport/static-files.js';
import { encodeFrame } from '../shared/frame-codec.js';
import type { ModelInfo } from '../shared/protocol.js';
import { chromiumPath, launchBrowser } from '../tests/e2e/browser.js';
import { row, type BenchRow } from './report.js';

const numberTokenizer: Tokenizer = {
  encode: (text) => text.trim().split(/\s+/).map((w, i) => (w.length * 97 + i * 31) % 50000 + 1), decode: (ids) => ids.join(' '),
  tokenString: (id) => ` t${id}`, vocabSize: 50257, bosId: null, eosId: null,
};

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `http://localhost:${(server.address() as AddressInfo).port}/`;
}

/** A server streaming frames of GPT-2-XL shape at ~20 per second through the real protocol. */
function xlFrameServer(clientDir: string): Server {
  const info: ModelInfo = { name: 'gpt2-xl-shapes', architecture: 'GPT2LMHeadModel', nLayers: 48, neuronsPerLayer: 6400, nHeads: 25, dModel: 1600, vocabSize: 50257, contextLength: 1024, neuronHook: 'blocks.{l}.mlp.hook_post' };
  const http = createServer(staticHandler(clientDir, { '/xr-profiles/': xrProfilesDirectory() }));
  const io = new SocketServer(http, { transports: ['websocket'], maxHttpBufferSize: 1 << 24 });
  const frame = (position: number) => encodeFrame({ position, tokenId: 1000 + position, nLayers: 48, neuronsPerLayer: 6400, nHeads: 25,
    neurons: Float32Array.from({ length: 48 * 6400 }, (_, i) => Math.sin(i * 0.01 + position)), attention: new Float32Array(48 * 25 * (position + 1)).fill(1 / (position + 1)) });
  io.on('connection', (socket) => {
    socket.emit('server:status', { state: 'ready' });
    socket.on('model:info', (ack: (r: unknown) => void) => ack({ ok: true, value: info }));
    socket.on('generate:start', (request: { prompt: string; maxTokens: number }, ack: (r: unknown) => void) => {
      const prompt = request.prompt.split(' ');
      prompt.forEach((_, p) => socket.emit('run:frame', 'xl', frame(p).buffer));
      ack({ ok: true, value: { runId: 'xl', tokens: prompt.map((w, i) => ({ id: i, text: ` ${w}` })) } });
      let k = 0;
      const timer = setInterval(() => {
        const p = prompt.length + k;
        socket.emit('generate:token', 'xl', { id: p, text: ` w${k}` }, [{ id: 1, text: ' x', prob: 0.5, logit: 1 }], frame(p).buffer);
        if (++k >= request.maxTokens) { clearInterval(timer); socket.emit('generate:done', 'xl', 'length'); }
      }, 50);
      socket.on('disconnect', () => clearInterval(timer));
    });
  });
  return http;
}

async function measure(url: string, label: string, neurons: number): Promise<BenchRow[]> {
  const session = await launchBrowser();
  try {
    const { page } = session;
    await page.goto(url);
    await page.waitForFunction(() => window.__circuits?.store.getState().model != null, undefined, { timeout: 120_000 });
    await page.evaluate(() => void window.__circuits!.connection.generate('one two three four five six seven eight', 400, 0));
    await page.waitForFunction(() => window.__circuits!.store.getState().framesReady > 10, undefined, { timeout: 120_000 });
    const before = await page.evaluate(() => { window.__circuits!.frameTimes(true); return { frame: window.__circuits!.rendererInfo().frame, ready: window.__circuits!.store.getState().framesReady, t: performance.now() }; });
    await page.waitForTimeout(8000);
    const after = await page.evaluate(() => ({ times: window.__circuits!.frameTimes(), info: window.__circuits!.rendererInfo(), ready: window.__circuits!.store.getState().framesReady, t: performance.now() }));
    await page.evaluate(() => window.__circuits!.connection.cancel());
    const seconds = (after.t - before.t) / 1000;
    return [
      row('browser', `${label}: draw calls per frame (${neurons.toLocaleString('en')} neurons)`, after.info.calls, 'calls', 'one per layer cloud + scene'),
      row('browser', `${label}: JS time per frame while frames stream (median / p95)`, after.times.p50Ms, 'ms', `p95 ${after.times.p95Ms.toFixed(1)} ms`),
      row('browser', `${label}: rendered frames per second (software WebGL)`, (after.info.frame - before.frame) / seconds, 'fps', `${((after.ready - before.ready) / seconds).toFixed(1)} activation frames/s arrived`),
    ];
  } finally {
    await session.close();
  }
}

export async function benchBrowser(): Promise<BenchRow[]> {
  if (!existsSync(chromiumPath)) {
    console.log(`browser benchmark skipped: no Chromium at ${chromiumPath} (apt-get install chromium)`);
    return [];
  }
  const clientDir = await ensureClientBuilt(() => {});
  const rows: BenchRow[] = [];
  // GPT-2-small shapes: the real server path with random weights.
  const decoder = randomDecoder(gpt2SmallSpec());
  const runner = await ModelRunner.create(decoder);
  const host = new ModelHost('gpt2-small-random', { decoder, tokenizer: numberTokenizer }, runner);
  const small = createServer(staticHandler(clientDir, { '/xr-profiles/': xrProfilesDirectory() }));
  const { io } = attachSocketServer(small, host);
  rows.push(...(await measure(await listen(small), 'GPT-2 small shapes', 12 * 3072)));
  await new Promise<void>((resolve) => io.close(() => resolve()));
  await runner.dispose();
  const xl = xlFrameServer(clientDir);
  rows.push(...(await measure(await listen(xl), 'GPT-2 XL shapes', 48 * 6400)));
  xl.closeAllConnections();
  xl.close();
  return rows;
}
