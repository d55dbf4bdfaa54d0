/**
 * The standalone build in headless Chromium at 1280×800: dist-static/ (built once, or reused while
 * newer than its sources) served by a plain static file server with no app code
 * (static-server.ts). The model loads in the page's engine worker (onnxruntime-web on WASM with
 * several threads: the page is cross-origin isolated), and the whole path runs in the browser: a
 * prompt (a frame for every position, predictions), generation (tokens stream in), Explain (token
 * effects, neurons and Δ), Trace (a pruned circuit), and a neuron clicked in the 3D scene (its
 * panel says in words that there is no corpus index). Every request goes to the static server's
 * own origin, none to socket.io. `?device=webgpu` in a Chromium without WebGPU says why in the
 * status bar and still runs on WASM. Without the headers, the build's service worker makes the
 * page cross-origin isolated after one reload.
 *
 * Screenshots: test-artifacts/e2e/standalone-*.png (see docs-notes/issue-14-static.md).
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../server/engine/load.js';
import { logitEffectsOf } from '../../shared/neurons/logit-effects.js';
import { buildStatic } from '../../tools/build-static.js';
import { launchBrowser, type BrowserSession } from './browser.js';
import { clickableFirstLayerNeuron, createPageHelpers } from './page.js';
import { serveStatic, type StaticServer } from './static-server.js';

const artifacts = resolve('test-artifacts/e2e');
const distStatic = resolve('dist-static');
/** The first example (shared/presets.ts): single-token answers, and the model prefers " Nations" (54%). */
const question = { prompt: 'The President of the United', target: ' Nations', distractor: ' States' };
let browser: BrowserSession;
let served: StaticServer | undefined;

const app = 'window.__circuits.store.getState()';
const analysis = 'window.__circuitsAnalysis.store.getState()';

const { state, waitFor, shoot } = createPageHelpers({
  browser: () => browser,
  server: () => (served ? { output: () => served!.requests.map((r) => `${r.status} ${r.path}`).join('\n') } as never : undefined),
  artifacts,
  snapshot: `(() => { const s = window.__circuits?.store.getState(); const a = window.__circuitsAnalysis?.store.getState(); return { isolated: self.crossOriginIsolated, href: location.href, status: document.querySelector('[data-testid=status]')?.textContent, ...(s ? { connection: s.connection, serverState: s.serverState, runtime: s.model?.runtime, runStatus: s.runStatus, tokens: s.tokens.length, framesReady: s.framesReady, error: s.error } : {}), ...(a ? { effectsStatus: a.effectsStatus, graphStatus: a.graphStatus, analysisError: a.error } : {}) }; })()`,
});

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtime(join(path, name))), stat.mtimeMs);
}

/** dist-static/ is reused when it is newer than everything it is built from. */
function staticBuildIsFresh(): boolean {
  const index = join(distStatic, 'index.html');
  if (!existsSync(index) || !existsSync(join(distStatic, 'coi-sw.js'))) return false;
  // This test checks the app without a prebuilt corpus index (tests/e2e/static-index.test.ts checks one).
  if (existsSync(join(distStatic, 'models/brown-gpt2/index'))) return false;
  const sources = ['client', 'shared', 'vite.config.ts', 'tools/build-static.ts', 'tools/static-index.ts', 'tools/static', 'assets/models/brown-gpt2']
    .map((p) => newestMtime(resolve(p)));
  return statSync(index).mtimeMs >= Math.max(...sources);
}

/** Waits until the page has rendered a few more animation frames. */
async function frames(n = 4): Promise<void> {
  await state(`(async () => { for (let i = 0; i < ${n}; i++) await new Promise((r) => requestAnimationFrame(r)); })()`);
}

const modelLoaded = `(window.__circuits?.store.getState().model?.runtime ?? '').startsWith('in this browser') && window.__circuits.store.getState().connection === 'connected' && window.__circuitsAnalysis != null`;
const runDone = `(() => { const s = ${app}; return s.runStatus === 'idle' && s.tokens.length > 0 && s.framesReady === s.tokens.length && s.predictions.length > 0; })()`;
/** Errors the page logged, less the 404s of files a build may lack (the worker asks for optional tokenizer files). */
const pageErrors = () => browser.errors.filter((e) => !/Failed to load resource: the server responded with a status of 404/.test(e));

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  if (!staticBuildIsFresh()) await buildStatic({ noIndex: true, log: () => {} });
  browser = await launchBrowser({ width: 1280, height: 800 });
  browser.page.setDefaultTimeout(60_000);
  // React reports render errors through window 'error' events, which playwright's pageerror can miss.
  await browser.context.addInitScript(`window.__uncaught = []; window.addEventListener('error', (e) => window.__uncaught.push(String(e.message) + ' ' + (e.error && e.error.stack)));`);
});

afterEach(async () => {
  const uncaught = await state<string[]>('window.__uncaught ?? []').catch(() => []);
  expect(uncaught).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await served?.close();
});

describe('standalone build (dist-static) on a plain static server', () => {
  let origin: string;
  const foreign: string[] = [];
  const socketIo: string[] = [];

  it('loads the bundled model in the engine worker: WASM with several threads, cross-origin isolated, nothing from another origin', async () => {
    served = await serveStatic(distStatic, { isolationHeaders: true });
    origin = new URL(served.url).origin;
    browser.page.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(`${origin}/`) && !url.startsWith('data:') && !url.startsWith('blob:')) foreign.push(url);
      if (url.includes('/socket.io/')) socketIo.push(url);
    });
    browser.page.on('websocket', (ws) => socketIo.push(ws.url()));
    await browser.page.goto(served.url);
    await waitFor(modelLoaded, 120_000);
    expect(await state<boolean>('self.crossOriginIsolated')).toBe(true);
    const runtime = await state<string>(`${app}.model.runtime`);
    const threads = /^in this browser: WASM, (\d+) threads$/.exec(runtime);
    expect(threads, runtime).not.toBeNull();
    expect(Number(threads![1])).toBeGreaterThan(1);
    expect(await state<string>(`${app}.model.name`)).toBe('brown-gpt2');
    expect(await browser.page.locator('[data-testid=engine-notice]').count()).toBe(0);
    // The status bar says where the model runs; no server control is offered.
    expect(await browser.page.getAttribute('.status-text', 'data-runtime')).toBe(runtime);
    // The model line ("… · in browser") is longer than on the server: it shrinks, so the status
    // bar stays inside its dock and the dock's fold button is on screen, not clipped off.
    const dock = (await browser.page.locator('.dock-right').boundingBox())!;
    const bar = (await browser.page.locator('[data-testid=status]').boundingBox())!;
    const fold = (await browser.page.locator('[data-testid=dock-toggle-right]').boundingBox())!;
    expect(bar.x + bar.width).toBeLessThanOrEqual(dock.x + dock.width + 0.5);
    expect(fold.x + fold.width).toBeLessThanOrEqual(bar.x + bar.width);
    expect(await browser.page.locator('[data-testid=engine-note]').textContent()).toBe('Model runs in this browser');
    expect(await browser.page.locator('[data-testid=present-button]').count()).toBe(0);
    expect(await browser.page.locator('[data-testid=engine-select]').count()).toBe(0);
    // The worker fetched the model through the static server, from the worker's own script.
    const paths = served.requests.map((r) => `${r.status} ${r.path}`);
    expect(paths).toContain('200 /models/brown-gpt2/config.json');
    expect(paths).toContain('200 /models/brown-gpt2/model.safetensors');
    expect(paths.some((p) => /^200 \/assets\/worker-[\w-]+\.js$/.test(p))).toBe(true);
    expect(paths.some((p) => /^200 \/ort\/ort-wasm-simd-threaded\.jsep\.wasm$/.test(p))).toBe(true);
    // Nothing asked for is missing but the prebuilt index's manifest (this build has none; the
    // worker asks once). The build leaves out Vite's second copy of ort's .wasm: nothing asks for it.
    expect(served.requests.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.path}`)).toEqual(['404 /models/brown-gpt2/index/manifest.json']);
    expect(readdirSync(join(distStatic, 'assets')).filter((name) => name.endsWith('.wasm'))).toEqual([]);
    // What VR and the transcoders fetch is there too, with the right types.
    const files = await state<Record<string, string>>(`(async () => {
      const out = {};
      for (const path of ['ort/ort-wasm-simd-threaded.jsep.wasm', 'ort/ort-wasm-simd-threaded.jsep.mjs', 'models/brown-gpt2/tokenizer.json',
        'models/brown-gpt2/transcoders/layer_0.safetensors', 'xr-profiles/profilesList.json', 'xr-profiles/generic-trigger/profile.json', '_headers']) {
        const response = await fetch(path, { method: 'HEAD' });
        out[path] = response.status + ' ' + (response.headers.get('content-type') ?? '');
      }
      return out;
    })()`);
    expect(files['ort/ort-wasm-simd-threaded.jsep.wasm']).toBe('200 application/wasm');
    expect(files['ort/ort-wasm-simd-threaded.jsep.mjs']).toMatch(/^200 text\/javascript/);
    for (const path of Object.keys(files)) expect(files[path], path).toMatch(/^200 /);
    await frames(3);
    await shoot('standalone-01-loaded');
    // The guide is read: out of the way of the later pictures.
    if (await browser.page.locator('[data-testid=guide-close]').count()) await browser.page.click('[data-testid=guide-close]');
  });

  it('runs a prompt: a frame for every position and the next-token predictions', async () => {
    await browser.page.fill('[data-testid=prompt-input]', question.prompt);
    await browser.page.click('[data-testid=run-button]');
    await waitFor(runDone, 60_000);
    const run = await state<{ tokens: number; predictions: number; lit: number; neurons: number }>(`(() => {
      const c = window.__circuits; const s = c.store.getState(); let lit = 0;
      for (let l = 0; l < s.model.nLayers; l++) for (let i = 0; i < s.model.neuronsPerLayer; i++) if (c.activations.neuron(s.position, l, i) !== 0) lit++;
      return { tokens: s.tokens.length, predictions: s.predictions.length, lit, neurons: s.model.nLayers * s.model.neuronsPerLayer };
    })()`);
    expect(run.tokens).toBeGreaterThan(3);
    expect(run.predictions).toBeGreaterThan(0);
    // The model card's figure for this prompt, computed here in the worker.
    const top = await state<{ text: string; prob: number }>(`${app}.predictions[0]`);
    expect(top.text).toBe(question.target);
    expect(top.prob).toBeGreaterThan(0.4);
    expect(top.prob).toBeLessThan(0.7);
    expect(run.lit).toBeGreaterThan(run.neurons * 0.2);
    expect(await browser.page.locator('[data-testid=run-error]').count()).toBe(0);
    await frames(3);
    await shoot('standalone-02-run');
  });

  it('generates: tokens stream into the rail one by one', async () => {
    const before = await state<number>(`${app}.tokens.length`);
    await state(`(() => { window.__tokenCounts = []; window.__circuits.store.subscribe((s, p) => { if (s.tokens.length !== p.tokens.length) window.__tokenCounts.push(s.tokens.length); }); })()`);
    await browser.page.fill('input[aria-label="tokens to generate"]', '6');
    await browser.page.click('[data-testid=generate-button]');
    // Six tokens, or fewer when the model writes end-of-text first (said under the buttons).
    await waitFor(`(() => { const s = ${app}; return s.tokens.length > ${before} && s.runStatus === 'idle' && s.stopReason != null && s.framesReady === s.tokens.length; })()`, 120_000);
    const generated = (await state<number>(`${app}.tokens.length`)) - before;
    expect(generated).toBeGreaterThanOrEqual(3);
    expect(generated).toBeLessThanOrEqual(6);
    if (generated < 6) expect(await state<string>(`${app}.stopReason`)).toBe('eos');
    // Streamed: the rail grew one token at a time, not in one jump at the end.
    const counts = await state<number[]>('window.__tokenCounts');
    expect(counts.filter((n) => n > before)).toEqual(Array.from({ length: generated }, (_, i) => before + i + 1));
    expect(await browser.page.locator('[data-testid=token-scrubber] [data-generated]').count()).toBe(generated);
    await browser.page.locator('[data-testid=stop-reason]').waitFor();
    await frames(3);
    await shoot('standalone-03-generated');
  });

  it('explains target vs distractor: token effects, neurons and Δ', async () => {
    await browser.page.fill('[data-testid=prompt-input]', question.prompt);
    await browser.page.fill('[data-testid=analysis-target]', question.target);
    await browser.page.fill('[data-testid=analysis-distractor]', question.distractor);
    await waitFor(`${analysis}.targetSplit?.text === ${JSON.stringify(question.target)} && ${analysis}.distractorSplit?.text === ${JSON.stringify(question.distractor)}`, 20_000);
    await browser.page.click('[data-testid=explain-button]');
    await waitFor(`${analysis}.effectsStatus === 'done'`, 180_000);
    const tokens = await state<number>(`${analysis}.effects.tokens.length`);
    expect(tokens).toBeGreaterThan(1);
    await expect.poll(() => browser.page.locator('[data-testid=token-effects] li').count()).toBe(tokens);
    expect(await browser.page.textContent('[data-testid=logit-diff]')).toMatch(/Δ = .* = -?\d/);
    await browser.page.click('[data-testid=tab-neurons]');
    expect(await browser.page.locator('[data-testid=neuron-entry][data-kind=neuron]').count()).toBeGreaterThan(0);
    expect(await browser.page.locator('[data-testid=analysis-error]').count()).toBe(0);
    await frames(3);
    await shoot('standalone-04-explained');
  });

  it('traces the circuit', async () => {
    await browser.page.fill('[data-testid=max-nodes]', '120');
    await browser.page.click('[data-testid=trace-button]');
    await waitFor(`${analysis}.graphStatus === 'done' && ${analysis}.prune != null`, 300_000);
    const kept = await state<{ nodes: number; links: number }>(`({ nodes: ${analysis}.prune.keptNodeIds.length, links: ${analysis}.prune.keptLinks.length })`);
    expect(kept.nodes).toBeGreaterThan(1);
    expect(kept.links).toBeGreaterThan(0);
    expect(Number(await browser.page.getAttribute('[data-testid=circuit-stats]', 'data-links'))).toBe(kept.links);
    await frames(3);
    await shoot('standalone-05-traced');
  }, 360_000);

  it('selects a neuron by clicking it in the scene: its panel says in words that there is no corpus index', async () => {
    // The circuit's 2D dock and paths out of the way, the camera where it started, so the click meets a neuron.
    await browser.page.click('[data-testid=circuit-dock-toggle]');
    await browser.page.click('[data-testid=show-paths]');
    await browser.page.click('[data-testid=reset-view]');
    await state(`window.__circuits.store.setState({ selection: null })`);
    await frames(3);
    const { neuron, point } = await state<{ neuron: number; point: { x: number; y: number } }>(clickableFirstLayerNeuron);
    await browser.page.mouse.click(point.x, point.y);
    await waitFor(`(() => { const s = ${app}.selection; return s && s.layer === 0 && s.neuron === ${neuron}; })()`, 10_000);
    await expect.poll(() => browser.page.textContent('[data-testid=selection-id]')).toBe(`blocks.0.mlp neuron ${neuron}`);
    expect(await browser.page.locator('[data-testid=activation-history] .bar-slot').count()).toBe(await state<number>(`${app}.tokens.length`));
    // The explanation panel: the logit effects (from the weights, computed in the worker), no
    // error, and in words that the corpus index is absent here and why; Build is disabled with the reason.
    const details = browser.page.locator('[data-testid=neuron-details]');
    await waitFor(`['ready', 'error'].includes(document.querySelector('[data-testid=neuron-details]')?.getAttribute('data-status'))`, 30_000);
    expect(await browser.page.locator('[data-testid=neuron-error]').count(), await details.textContent() ?? '').toBe(0);
    const promoted = await browser.page.locator('[data-testid=neuron-promoted] li').count();
    expect(promoted).toBeGreaterThan(0);
    expect(await browser.page.locator('[data-testid=neuron-suppressed] li').count()).toBe(promoted);
    // The worker's answer is the neuron's: the same tokens as the plain loops on the server's copy of the weights.
    const model = await loadModel(resolve('assets/models/brown-gpt2'));
    const expected = logitEffectsOf(model.decoder, model.tokenizer.vocabSize, 0, neuron);
    const ids = (testId: string) => browser.page.locator(`[data-testid=${testId}] li`).evaluateAll((items) => items.map((li) => Number(li.getAttribute('data-token-id'))));
    expect(await ids('neuron-promoted')).toEqual(expected.promoted.slice(0, promoted).map((e) => e.token));
    expect(await ids('neuron-suppressed')).toEqual(expected.suppressed.slice(0, promoted).map((e) => e.token));
    const notice = browser.page.locator('[data-testid=neuron-index-notice][data-state=absent]');
    await notice.waitFor();
    expect(await notice.textContent()).toContain('this app has no prebuilt corpus index');
    const build = browser.page.locator('[data-testid=build-index]');
    expect(await build.isDisabled()).toBe(true);
    expect(await build.getAttribute('title')).toBeTruthy();
    expect(await browser.page.locator('[data-testid=index-error]').count()).toBe(0);
    await frames(3);
    await shoot('standalone-06-neuron');
  });

  it('asked nothing of another origin and nothing of socket.io, and logged no error', async () => {
    expect(foreign).toEqual([]);
    expect(socketIo).toEqual([]);
    expect(served!.requests.filter((r) => r.path.includes('socket.io'))).toEqual([]);
    expect(pageErrors()).toEqual([]);
  });

  it('?device=webgpu without WebGPU says why in the status bar and runs on WASM', async () => {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    try {
      await page.goto(`${served!.url}?device=webgpu`);
      await page.waitForFunction(modelLoaded, null, { timeout: 120_000, polling: 100 });
      const hasAdapter = await page.evaluate(`(async () => !!(navigator.gpu && await navigator.gpu.requestAdapter()))()`);
      expect(hasAdapter, 'this Chromium has WebGPU: the fallback cannot be seen here').toBe(false);
      const notice = await page.locator('[data-testid=engine-notice]').textContent();
      expect(notice).toMatch(/WebGPU.*; running on WASM$/);
      expect(await page.evaluate(`${app}.model.runtime`)).toMatch(/^in this browser: WASM, \d+ threads$/);
      await page.fill('[data-testid=prompt-input]', question.prompt);
      await page.click('[data-testid=run-button]');
      await page.waitForFunction(runDone, null, { timeout: 60_000, polling: 100 });
      await page.screenshot({ path: join(artifacts, 'standalone-07-webgpu-fallback.png') });
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
    await served!.close();
    served = undefined;
  });

  it("becomes cross-origin isolated through the build's service worker when the host sends no headers", async () => {
    served = await serveStatic(distStatic, { isolationHeaders: false });
    const page = await browser.context.newPage();
    try {
      await page.goto(served.url);
      // The first load is not isolated; the page registers coi-sw.js and reloads once under it.
      const deadline = Date.now() + 60_000;
      let isolated = false;
      while (!isolated && Date.now() < deadline) {
        isolated = await page.evaluate('self.crossOriginIsolated && !!navigator.serviceWorker.controller').catch(() => false) as boolean;
        if (!isolated) await new Promise((r) => setTimeout(r, 250));
      }
      expect(isolated, `requests: ${served.requests.map((r) => r.path).join(' ')}`).toBe(true);
      expect(served.requests.some((r) => r.path === '/coi-sw.js' && r.status === 200)).toBe(true);
      await page.waitForFunction(modelLoaded, null, { timeout: 120_000, polling: 100 });
      expect(await page.evaluate(`${app}.model.runtime`)).toMatch(/^in this browser: WASM, ([2-9]|\d\d+) threads$/);
    } finally {
      await page.close();
    }
  });
});
