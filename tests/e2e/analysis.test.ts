/**
 * End to end, the interpretability views in headless Chromium against the real server: ask
 * why the target beats the distractor (token effects and the neuron list appear), trace the
 * circuit (paths drawn: the store's kept links and a canvas with vs without paths), re-prune
 * with the node slider, pin a node and export the graph JSON, grab a neuron on a path in
 * emulated VR (the highlight follows), and import a circuit-tracer-style graph from a file.
 * Screenshots go to test-artifacts/e2e/analysis-*.png.
 *
 * Model: the bundled assets/models/brown-gpt2 when its weights exist, else the stories260K
 * fixture (../shared/fixtures/stories260K) with its tokenizer. CIRCUITS_E2E_URL tests an
 * already running server instead; CIRCUITS_E2E_CONSOLE=1 echoes the page's console.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { importGraph } from '../../shared/graph/io.js';
import { launchBrowser, screenshotStatistics, type BrowserSession } from './browser.js';
import { createPageHelpers } from './page.js';
import { startServer, type RunningServer } from './server.js';

const artifacts = resolve('test-artifacts/e2e');
const background: [number, number, number] = [5, 6, 10]; // #05060a, the scene's clear colour
const bundledModel = resolve('assets/models/brown-gpt2');
const stories = resolve('../shared/fixtures/stories260K');
const foreignGraph = resolve('tests/shared/graph/fixtures/circuit-tracer-like.json');
const useBundled = existsSync(join(bundledModel, 'model.safetensors'));
const question = useBundled
  ? { prompt: ' the apple fell from the', target: ' tree', distractor: ' sky' }
  : { prompt: 'Once upon a time, there was a little girl named', target: ' Lily', distractor: ' Tom' };

let server: RunningServer;
let browser: BrowserSession;

const analysis = 'window.__circuitsAnalysis.store.getState()';

const { state, waitFor, xrFrames, enterVr, shoot } = createPageHelpers({
  browser: () => browser, server: () => server, artifacts,
  snapshot: `(() => { const a = window.__circuitsAnalysis?.store.getState(); const s = window.__circuits?.store.getState(); return { app: s && { connection: s.connection, runStatus: s.runStatus, selection: s.selection, grabbed: s.grabbed, error: s.error }, analysis: a && { effectsStatus: a.effectsStatus, graphStatus: a.graphStatus, progress: a.progress, error: a.error, kept: a.prune?.keptLinks.length, highlight: a.highlight.count } }; })()`,
});

/** Waits until the page has rendered a few more animation frames. */
async function frames(n = 4): Promise<void> {
  await state(`(async () => { for (let i = 0; i < ${n}; i++) await new Promise((r) => requestAnimationFrame(r)); })()`);
}

/** The canvas alone (no HTML panels), as PNG bytes, from the preserved drawing buffer. */
async function canvasPng(name?: string): Promise<Buffer> {
  const url = await state<string | null>('window.__circuitsAnalysis.snapshot()');
  expect(url).toMatch(/^data:image\/png;base64,/);
  const png = Buffer.from(url!.slice('data:image/png;base64,'.length), 'base64');
  if (name) writeFileSync(join(artifacts, `${name}.png`), png);
  return png;
}

/** Pixels whose colour differs between two same-sized PNGs (decoded by the page). */
async function differingPixels(a: Buffer, b: Buffer): Promise<number> {
  return browser.page.evaluate(async ({ a, b }) => {
    const decode = async (base64: string) => {
      const image = new Image();
      image.src = `data:image/png;base64,${base64}`;
      await image.decode();
      const canvas = document.createElement('canvas');
      canvas.width = image.width;
      canvas.height = image.height;
      const context = canvas.getContext('2d')!;
      context.drawImage(image, 0, 0);
      return context.getImageData(0, 0, image.width, image.height).data;
    };
    const [x, y] = await Promise.all([decode(a), decode(b)]);
    if (x.length !== y.length) return -1;
    let count = 0;
    for (let i = 0; i < x.length; i += 4) if (Math.abs(x[i]! - y[i]!) + Math.abs(x[i + 1]! - y[i + 1]!) + Math.abs(x[i + 2]! - y[i + 2]!) > 24) count++;
    return count;
  }, { a: a.toString('base64'), b: b.toString('base64') });
}

/** Canvas pixels the circuit's paths and nodes add: shown vs hidden. */
async function pathPixels(name: string): Promise<number> {
  await frames(3);
  const shown = await canvasPng(`${name}-paths`);
  await browser.page.click('[data-testid=show-paths]');
  await frames(3);
  const hidden = await canvasPng(`${name}-no-paths`);
  await browser.page.click('[data-testid=show-paths]');
  await frames(2);
  const pixels = await differingPixels(shown, hidden);
  const stats = await screenshotStatistics(browser.page, shown, background);
  writeFileSync(join(artifacts, `${name}.json`), JSON.stringify({ pathPixels: pixels, stats }, null, 2));
  expect(stats.nonBackgroundFraction).toBeGreaterThan(0.01);
  return pixels;
}

async function setRange(testId: string, value: number): Promise<void> {
  await browser.page.locator(`[data-testid=${testId}]`).fill(String(value));
}

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  browser = await launchBrowser({ width: 1280, height: 800 });
  browser.page.setDefaultTimeout(60_000);
  const external = process.env.CIRCUITS_E2E_URL;
  if (external) {
    server = { url: external, port: Number(new URL(external).port), output: () => '', stop: async () => {} };
    return;
  }
  await build({ configFile: resolve('vite.config.ts'), logLevel: 'warn' });
  server = useBundled
    ? await startServer({ modelDir: bundledModel })
    : await startServer({ modelDir: join(stories, 'stories260K.bin'), extraArgs: ['--tokenizer', join(stories, 'tok512.bin')] });
});

afterEach(async () => {
  // An uncaught render error unmounts the whole page: name it at the test that caused it.
  const uncaught = await state<string[]>('window.__uncaught ?? []');
  expect(uncaught).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('analysis views in the browser', () => {
  it('explains the question: token split, Δ, token effects and the neuron list', async () => {
    // React reports render errors through window 'error' events, which playwright's pageerror can miss.
    await browser.page.addInitScript(`window.__uncaught = []; window.addEventListener('error', (e) => window.__uncaught.push(String(e.message) + ' ' + (e.error && e.error.stack)));`);
    await browser.page.goto(server.url);
    await waitFor(`window.__circuits?.store.getState().model != null && window.__circuits.store.getState().connection === 'connected' && window.__circuitsAnalysis != null`, 120_000);
    // A long Explain shows its progress and stops on Cancel.
    const long = Array.from({ length: 9 }, (_, i) => `The jury said the city ${i % 2 ? 'had' : 'was'} ready for the vote.`).join(' ');
    await browser.page.fill('[data-testid=prompt-input]', long);
    await browser.page.fill('[data-testid=analysis-target]', ' had');
    await browser.page.fill('[data-testid=analysis-distractor]', ' was');
    await browser.page.click('[data-testid=explain-button]');
    await waitFor(`${analysis}.effectsRunId != null && ${analysis}.progress != null`, 60_000);
    await browser.page.locator('[data-testid=explain-progress] progress').waitFor();
    await browser.page.click('[data-testid=cancel-explain]');
    await waitFor(`${analysis}.effectsStatus === 'cancelled'`, 60_000);
    expect(await state<unknown>(`${analysis}.effects`)).toBeNull();
    expect(await browser.page.locator('[data-testid=explain-progress]').count()).toBe(0);

    await browser.page.fill('[data-testid=prompt-input]', question.prompt);
    await browser.page.fill('[data-testid=analysis-target]', question.target);
    await browser.page.fill('[data-testid=analysis-distractor]', question.distractor);
    await waitFor(`${analysis}.targetSplit?.text === ${JSON.stringify(question.target)} && ${analysis}.distractorSplit?.text === ${JSON.stringify(question.distractor)}`, 20_000);
    await browser.page.locator('[data-testid=target-split] .chip').first().waitFor();
    const distractorTokens = await state<number>(`${analysis}.distractorSplit.tokens.length`);
    if (distractorTokens > 1) await browser.page.locator('[data-testid=distractor-split-warning]').waitFor();

    await browser.page.click('[data-testid=explain-button]');
    await waitFor(`${analysis}.effectsStatus === 'done'`, 120_000);
    const tokens = await state<number>(`${analysis}.effects.tokens.length`);
    expect(tokens).toBeGreaterThan(1);
    await expect.poll(() => browser.page.locator('[data-testid=token-effects] li').count()).toBe(tokens);
    await expect.poll(() => browser.page.textContent('[data-testid=token-measure]')).toContain('gradient × input');
    // The results sit in tabs: Explain opens token effects; the neuron list is the next tab.
    await browser.page.click('[data-testid=tab-neurons]');
    const neurons = await browser.page.locator('[data-testid=neuron-entry][data-kind=neuron]').count();
    expect(neurons).toBeGreaterThan(0);
    expect(await browser.page.textContent('[data-testid=logit-diff]')).toMatch(/Δ = .* = -?\d/);
    if (distractorTokens > 1) expect(await browser.page.locator('[data-testid=analysis-warning]').count()).toBeGreaterThan(0);

    // The rail shows the prompt, and the strip over it shows the chosen measure.
    await waitFor(`window.__circuits.store.getState().tokens.length === ${tokens}`, 30_000);
    await browser.page.click('[data-testid=tab-effects]');
    await browser.page.click('[data-testid=measure-occlusion]');
    await expect.poll(() => browser.page.textContent('[data-testid=token-measure]')).toContain('occlusion');
    await browser.page.click('[data-testid=tab-neurons]');

    // Clicking an entry selects that neuron.
    const entry = browser.page.locator('[data-testid=neuron-entry][data-kind=neuron]').first();
    const layer = Number(await entry.getAttribute('data-layer'));
    const index = Number(await entry.getAttribute('data-index'));
    await entry.click();
    await waitFor(`(() => { const s = window.__circuits.store.getState().selection; return s && s.layer === ${layer} && s.neuron === ${index}; })()`, 10_000);
    await browser.page.click('[data-testid=neuron-total]');
    // The layer filter keeps one layer's neurons (and heads).
    await browser.page.selectOption('[data-testid=layer-filter]', String(layer));
    await expect.poll(async () => new Set(await browser.page.locator('[data-testid=neuron-entry]').evaluateAll((all) => all.map((e) => e.getAttribute('data-layer')))).size).toBe(1);
    expect(await browser.page.locator('[data-testid=neuron-entry]').first().getAttribute('data-layer')).toBe(String(layer));
    await browser.page.selectOption('[data-testid=layer-filter]', '');
    await frames(3);
    await shoot('analysis-01-effects');
  });

  it('traces the circuit and draws its paths', async () => {
    await state(`window.__circuits.store.setState({ selection: null })`);
    // A large trace reports progress and stops on Cancel.
    await browser.page.fill('[data-testid=max-nodes]', '2000');
    await browser.page.click('[data-testid=trace-button]');
    // Over 1000 nodes the panel asks first.
    await browser.page.click('[data-testid=confirm-large-trace]');
    await waitFor(`${analysis}.progress != null`, 60_000);
    await browser.page.locator('[data-testid=trace-progress] progress').waitFor();
    await browser.page.click('[data-testid=cancel-trace]');
    await waitFor(`${analysis}.graphStatus === 'cancelled'`, 60_000);
    expect(await state<unknown>(`${analysis}.graph`)).toBeNull();

    await browser.page.fill('[data-testid=max-nodes]', '120');
    await browser.page.click('[data-testid=trace-button]');
    await waitFor(`${analysis}.graphStatus === 'done' && ${analysis}.prune != null`, 180_000);
    const kept = await state<{ nodes: number; links: number; nodeCoverage: number }>(
      `(() => { const p = ${analysis}.prune; return { nodes: p.keptNodeIds.length, links: p.keptLinks.length, nodeCoverage: p.nodeCoverage }; })()`,
    );
    expect(kept.links).toBeGreaterThan(0);
    expect(kept.nodeCoverage).toBeGreaterThan(0);
    expect(Number(await browser.page.getAttribute('[data-testid=circuit-stats]', 'data-links'))).toBe(kept.links);
    expect(await browser.page.locator('[data-testid=per-layer-counts] .chip').count()).toBeGreaterThan(1);
    // The paths are one LineSegments draw call (plus one Points for the nodes).
    expect(await pathPixels('analysis-02-circuit')).toBeGreaterThan(200);
    await shoot('analysis-02-circuit');
  });

  it('re-prunes live when the node slider moves, pins a node and exports the graph JSON', async () => {
    const keptAt = () => state<number>(`${analysis}.prune.keptNodeIds.length`);
    const before = await keptAt();
    let after = before;
    for (const value of [0.3, 0.5, 0.99]) {
      await setRange('node-threshold', value);
      // Pruning runs in the graph worker: wait for its answer.
      await waitFor(`Math.abs(${analysis}.nodeThreshold - ${value}) < 1e-9 && !${analysis}.pruning`, 5000);
      after = await keptAt();
      if (after !== before) break;
    }
    expect(after).not.toBe(before);
    await frames(2);
    await shoot('analysis-03-pruned');
    await setRange('node-threshold', 0.8);
    await waitFor(`Math.abs(${analysis}.nodeThreshold - 0.8) < 1e-9 && !${analysis}.pruning`, 5000);

    const pin = browser.page.locator('[data-testid=pin-node]').first();
    const pinnedId = await pin.getAttribute('data-node-id');
    await pin.click();
    await waitFor(`${analysis}.pinnedIds.includes(${JSON.stringify(pinnedId)}) && ${analysis}.prune.keptNodeIds.includes(${JSON.stringify(pinnedId)})`, 5000);

    const [download] = await Promise.all([browser.page.waitForEvent('download'), browser.page.click('[data-testid=export-json]')]);
    const file = await download.path();
    const exported = importGraph(readFileSync(file!, 'utf8'));
    expect(exported.nodes.length).toBe(await keptAt());
    expect(exported.qParams.pinnedIds).toContain(pinnedId);
    await pin.click();
    await waitFor(`${analysis}.pinnedIds.length === 0`, 5000);
  });

  it('in emulated VR, grabbing a neuron on a path highlights the paths through it', async () => {
    // A kept neuron of the model with kept links, as near the entrance as possible.
    const target = await state<{ id: string; layer: number; feature: number } | null>(`(() => {
      const a = ${analysis};
      const model = window.__circuits.store.getState().model;
      const touched = new Set(a.prune.keptLinks.flatMap((l) => [l.source, l.target]));
      const kept = new Set(a.prune.keptNodeIds);
      const nodes = a.graph.nodes.filter((n) => n.feature_type === 'mlp neuron' && kept.has(n.node_id) && touched.has(n.node_id) && Number(n.layer) < model.nLayers);
      nodes.sort((x, y) => Number(x.layer) - Number(y.layer));
      return nodes[0] ? { id: nodes[0].node_id, layer: Number(nodes[0].layer), feature: nodes[0].feature } : null;
    })()`);
    expect(target).not.toBeNull();
    await state(`window.__circuits.store.setState({ selection: null, grabbed: null })`);
    await waitFor(`${analysis}.highlight.count === 0`, 5000);

    await enterVr();

    // Bring the right controller half a metre in front of the neuron (no slab in between), aim, squeeze.
    await state(`(async () => {
      const c = window.__circuits;
      const [x, y, z] = c.neuronWorldPosition(${target!.layer}, ${target!.feature});
      await c.xrStore.getState().emulator.remote.dispatch('look_at', { device: 'controller-right', target: { x, y, z }, moveToDistance: 0.5 });
    })()`);
    await xrFrames(6);
    await state(`window.__circuits.xrStore.getState().emulator.controllers.right.updateButtonValue('squeeze', 1)`);
    await waitFor(`(() => { const g = window.__circuits.store.getState().grabbed; return g && g.kind === 'neuron' && g.layer === ${target!.layer} && g.neuron === ${target!.feature}; })()`, 20_000);
    await waitFor(`${analysis}.highlight.count > 0 && ${analysis}.highlight.focusIds.includes(${JSON.stringify(target!.id)})`, 10_000);
    const highlighted = await state<{ count: number; kept: number }>(`({ count: ${analysis}.highlight.count, kept: ${analysis}.prune.keptLinks.length })`);
    expect(highlighted.count).toBeGreaterThan(0);
    expect(highlighted.count).toBeLessThanOrEqual(highlighted.kept);
    // The in-scene circuit panel (what VR shows) says so too.
    await waitFor(`window.__circuitsAnalysis.panelLines().some((line) => line.startsWith('Highlighted: ' + ${highlighted.count} + ' edges'))`, 10_000);
    await xrFrames(3);
    await shoot('analysis-04-xr-grab-highlight');
    await state(`window.__circuits.xrStore.getState().emulator.controllers.right.updateButtonValue('squeeze', 0)`);
    await waitFor(`window.__circuits.store.getState().grabbed === null`, 20_000);
    await state(`window.__circuits.xrStore.getState().session?.end()`);
    await waitFor(`window.__circuits.xrStore.getState().session == null`, 20_000);
  });

  it('imports a circuit-tracer graph from a file and draws it', async () => {
    await state(`window.__circuits.store.setState({ selection: null, grabbed: null })`);
    const expected = importGraph(readFileSync(foreignGraph, 'utf8'));
    await browser.page.setInputFiles('[data-testid=graph-file]', foreignGraph);
    await waitFor(`${analysis}.graphSource?.kind === 'imported' && ${analysis}.graph.nodes.length === ${expected.nodes.length} && ${analysis}.prune != null`, 20_000);
    const kept = await state<{ nodes: number; links: number }>(`({ nodes: ${analysis}.prune.keptNodeIds.length, links: ${analysis}.prune.keptLinks.length })`);
    expect(kept.nodes).toBeGreaterThan(0);
    expect(kept.links).toBeGreaterThan(0);
    expect(Number(await browser.page.getAttribute('[data-testid=circuit-stats]', 'data-nodes'))).toBe(kept.nodes);
    await expect.poll(() => browser.page.textContent('[data-testid=circuit-source]')).toContain('circuit-tracer-like.json');
    // Every node is placed (finite, inside the scene), transcoder and error nodes included.
    const placed = await state<boolean>(`${analysis}.graph.nodes.every((n) => { const p = window.__circuitsAnalysis.nodeWorldPosition(n.node_id); return p && p.every(Number.isFinite); })`);
    expect(placed).toBe(true);
    expect(await pathPixels('analysis-05-imported')).toBeGreaterThan(100);
    await shoot('analysis-05-imported');
    expect(browser.errors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  });
});
