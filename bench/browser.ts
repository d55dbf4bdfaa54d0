/**
 * Rendering benchmark in headless Chromium (software WebGL: SwiftShader, so absolute frame
 * times are far above a real GPU's): draw calls per frame (renderer.info) and JS time per frame
 * while activation frames stream in, for GPT-2-small shapes (a real server with random weights,
 * generating) and GPT-2-XL shapes (48 × 6400 = 307,200 neurons: frames of that shape streamed by
 * the same socket.io protocol; the XL model itself is not needed to measure the client); the
 * same at GPT-2-small shapes with a 200-node circuit drawn; and the main thread's longest task
 * while a 1000-node graph arrives (parsed and pruned in the graph worker).
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as SocketServer } from 'socket.io';
import { ensureClientBuilt, xrProfilesDirectory } from '../server/main.js';
import { gpt2SmallSpec, randomDecoder } from '../shared/engine/random-decoder.js';
import { ModelRunner } from '../shared/engine/runner.js';
import type { Tokenizer } from '../shared/engine/decoder.js';
import { ModelHost } from '../shared/service/model-host.js';
import { attachSocketServer } from '../server/transport/socket-server.js';
import { staticHandler } from '../server/transport/static-files.js';
import { encodeFrame } from '../shared/frame-codec.js';
import { exportGraph } from '../shared/graph/io.js';
import type { AttributionGraph } from '../shared/graph/schema.js';
import { randomGraph } from '../tests/shared/graph/random-graph.js';
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

/** Writes a graph JSON file for the page's file input; returns its path. */
function graphFile(name: string, graph: AttributionGraph): string {
  const dir = mkdtempSync(join(tmpdir(), 'circuits-bench-'));
  const file = join(dir, name);
  writeFileSync(file, exportGraph(graph));
  return file;
}

/** The circuit panel's file input: its tab is not the one a fresh page opens on, so open it first. */
async function openCircuitTab(page: Page): Promise<void> {
  if ((await page.locator('[data-testid=graph-file]').count()) === 0) await page.click('[data-testid=tab-circuit]');
  await page.locator('[data-testid=graph-file]').waitFor({ state: 'attached' });
}

/** Imports a graph through the circuit panel's file input and waits until it is pruned and drawn. */
async function importThroughPage(page: Page, file: string, nodes: number): Promise<void> {
  await openCircuitTab(page);
  await page.setInputFiles('[data-testid=graph-file]', file);
  await page.waitForFunction((n) => {
    const a = window.__circuitsAnalysis?.store.getState();
    return a?.graph?.nodes.length === n && !a.pruning && a.prune != null;
  }, nodes, { timeout: 120_000 });
}

async function measure(url: string, label: string, neurons: number, prepare?: (page: Page) => Promise<void>): Promise<BenchRow[]> {
  const session = await launchBrowser();
  try {
    const { page } = session;
    await page.goto(url);
    await page.waitForFunction(() => window.__circuits?.store.getState().model != null, undefined, { timeout: 120_000 });
    await prepare?.(page);
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

/**
 * The longest main-thread task (PerformanceObserver 'longtask', ≥ 50 ms counted) and the longest
 * gap between animation frames while a 1000+-node graph with tens of thousands of links arrives
 * through the import path (parsed and pruned in the graph worker). Target: ≤ 200 ms.
 */
async function measureLargeGraph(url: string): Promise<BenchRow[]> {
  const graph = randomGraph({ positions: 12, layers: 4, neuronsPerLayer: 260, logits: 5, density: 0.25, seed: 5 });
  const file = graphFile('large.json', graph);
  const session = await launchBrowser();
  try {
    const { page } = session;
    await page.goto(url);
    await page.waitForFunction(() => window.__circuits?.store.getState().model != null && window.__circuitsAnalysis != null, undefined, { timeout: 120_000 });
    await openCircuitTab(page);
    await page.waitForTimeout(3000); // the scene's first frames (shader compiles) are not the graph's doing
    // A string, not a function: tsx's name helpers (__name) do not exist in the page.
    await page.evaluate(`(() => {
      const probe = { tasks: [], maxGap: 0, last: performance.now(), running: true };
      window.__probe = probe;
      new PerformanceObserver((list) => { for (const e of list.getEntries()) probe.tasks.push(e.duration); }).observe({ type: 'longtask' });
      const tick = (t) => { probe.maxGap = Math.max(probe.maxGap, t - probe.last); probe.last = t; if (probe.running) requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
    })()`);
    // Three loads (the machine may be shared: a preempted task lasts longer in wall time); the
    // median counts, all are in the note.
    const tries: { seconds: number; longest: number; gap: number }[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      await page.evaluate(`(() => { window.__before = window.__circuitsAnalysis.store.getState().graph; const p = window.__probe; p.tasks = []; p.maxGap = 0; p.last = performance.now(); })()`);
      const t0 = Date.now();
      await page.setInputFiles('[data-testid=graph-file]', file);
      await page.waitForFunction(`(() => { const a = window.__circuitsAnalysis.store.getState(); return a.graph !== window.__before && a.graph?.nodes.length === ${graph.nodes.length} && !a.pruning; })()`, undefined, { timeout: 120_000 });
      await page.evaluate(`(async () => { for (let i = 0; i < 10; i++) await new Promise((r) => requestAnimationFrame(r)); })()`);
      const probe = await page.evaluate<{ tasks: number[]; maxGap: number }>(`(() => { const p = window.__probe; return { tasks: p.tasks.slice(), maxGap: p.maxGap }; })()`);
      tries.push({ seconds: (Date.now() - t0) / 1000, longest: Math.max(0, ...probe.tasks), gap: probe.maxGap });
    }
    // The median try (a 'longtask' is ≥ 50 ms: 0 means none was that long).
    const best = [...tries].sort((a, b) => a.longest - b.longest)[1]!;
    const note = `${graph.nodes.length} nodes, ${graph.links.length.toLocaleString('en')} links; median of 3 (${tries.map((t) => t.longest.toFixed(0)).join(', ')} ms; loads ${tries.map((t) => t.seconds.toFixed(1)).join(', ')} s); target ≤ 200 ms`;
    return [
      row('browser', 'main-thread longest task while a 1000-node graph arrives', best.longest, 'ms', note),
      row('browser', 'longest gap between frames while a 1000-node graph arrives', best.gap, 'ms', 'same try; software WebGL frames included'),
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
  const smallUrl = await listen(small);
  rows.push(...(await measure(smallUrl, 'GPT-2 small shapes', 12 * 3072)));
  // The same with a 200-node circuit drawn (2D panel and 3D paths): 12 layers × 16 neurons + aggregates.
  const circuit = randomGraph({ positions: 8, layers: 12, neuronsPerLayer: 16, logits: 3, density: 0.3, seed: 3 });
  const circuitFile = graphFile('circuit-200.json', circuit);
  let drawn = { nodes: 0, links: 0 };
  const withCircuit = await measure(smallUrl, 'GPT-2 small shapes + 200-node circuit', 12 * 3072, async (page) => {
    await page.evaluate(() => window.__circuitsAnalysis!.store.setState({ nodeBudget: 200 }));
    await importThroughPage(page, circuitFile, circuit.nodes.length);
    drawn = await page.evaluate(`(() => { const p = window.__circuitsAnalysis.store.getState().prune; return { nodes: p.keptNodeIds.length, links: p.keptLinks.length }; })()`);
  });
  rows.push(...withCircuit.map((r) => ({ ...r, note: `${r.note ?? ''}; ${drawn.nodes} nodes and ${drawn.links.toLocaleString('en')} links drawn in 2D and 3D` })));
  rows.push(...(await measureLargeGraph(smallUrl)));
  await new Promise<void>((resolve) => io.close(() => resolve()));
  await runner.dispose();
  const xl = xlFrameServer(clientDir);
  rows.push(...(await measure(await listen(xl), 'GPT-2 XL shapes', 48 * 6400)));
  xl.closeAllConnections();
  xl.close();
  return rows;
}
