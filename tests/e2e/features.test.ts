/**
 * End to end, transcoder features in headless Chromium against the real server (bundled
 * brown-gpt2, which loads its own transcoders by default): the panel describes them; "Trace over
 * features" draws the replacement-model graph in the 2D view and as 3D paths with its replacement
 * and completeness scores; the feature clouds (beside, then instead of the neuron clouds) light
 * up with the features the server streams for this client only, and the traced graph's feature
 * nodes move into them. Screenshots go to test-artifacts/e2e/features-*.png.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshotStatistics, type BrowserSession } from './browser.js';
import { createPageHelpers } from './page.js';
import { startServer, type RunningServer } from './server.js';

const artifacts = resolve('test-artifacts/e2e');
const background: [number, number, number] = [5, 6, 10];
const question = { prompt: ' the apple fell from the', target: ' tree', distractor: ' sky' };

let server: RunningServer;
let browser: BrowserSession;
const analysis = 'window.__circuitsAnalysis.store.getState()';
const features = 'window.__circuitsFeatures';

const { state, waitFor, shoot } = createPageHelpers({
  browser: () => browser, server: () => server, artifacts,
  snapshot: `(() => { const a = window.__circuitsAnalysis?.store.getState(); const s = window.__circuits?.store.getState(); const f = window.__circuitsFeatures; return { app: s && { connection: s.connection, runStatus: s.runStatus, error: s.error, tokens: s.tokens.length, position: s.position }, analysis: a && { graphStatus: a.graphStatus, progress: a.progress, error: a.error, kept: a.prune?.keptLinks.length }, features: f && { ...f.view.getState(), clouds: f.clouds() } }; })()`,
});

async function frames(n = 4): Promise<void> {
  await state(`(async () => { for (let i = 0; i < ${n}; i++) await new Promise((r) => requestAnimationFrame(r)); })()`);
}

async function canvasPng(name: string): Promise<Buffer> {
  const url = await state<string | null>('window.__circuitsAnalysis.snapshot()');
  expect(url).toMatch(/^data:image\/png;base64,/);
  const png = Buffer.from(url!.slice('data:image/png;base64,'.length), 'base64');
  writeFileSync(join(artifacts, `${name}.png`), png);
  return png;
}

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

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  browser = await launchBrowser({ width: 1280, height: 800 });
  browser.page.setDefaultTimeout(60_000);
  await build({ configFile: resolve('vite.config.ts'), logLevel: 'warn' });
  server = await startServer({ modelDir: resolve('assets/models/brown-gpt2') });
});

afterEach(async () => {
  const uncaught = await state<string[]>('window.__uncaught ?? []');
  expect(uncaught).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('transcoder features in the browser', () => {
  let featureNode = '';

  it('traces over features: 2D graph, 3D paths, replacement and completeness scores', async () => {
    await browser.page.addInitScript(`window.__uncaught = []; window.addEventListener('error', (e) => window.__uncaught.push(String(e.message) + ' ' + (e.error && e.error.stack)));`);
    await browser.page.goto(server.url);
    await waitFor(`window.__circuits?.store.getState().model?.transcoders != null && window.__circuitsAnalysis != null && ${features} != null`, 120_000);
    expect(server.output()).toMatch(/transcoders: 4 layers × 2048 features \(jumprelu, skip\)/);
    // The features live in their own tab: nothing is added to the page until it is opened.
    expect(await browser.page.locator('[data-testid=features-panel]').count()).toBe(0);
    await browser.page.locator('[data-testid=tab-features]').waitFor();
    await browser.page.fill('[data-testid=prompt-input]', question.prompt);
    await browser.page.fill('[data-testid=analysis-target]', question.target);
    await browser.page.fill('[data-testid=analysis-distractor]', question.distractor);
    await browser.page.selectOption('[data-testid=trace-over]', 'features');
    expect(await browser.page.isDisabled('[data-testid=max-nodes]')).toBe(true);
    await browser.page.click('[data-testid=trace-button]');
    await waitFor(`${analysis}.graphStatus === 'done' && ${analysis}.prune != null`, 180_000);

    const summary = await state<{ features: number; errors: number; neurons: number; kept: number; replacement: number; completeness: number }>(`(() => {
      const a = ${analysis};
      const nodes = a.graph.nodes;
      return {
        features: nodes.filter((n) => n.feature_type === 'cross layer transcoder').length,
        errors: nodes.filter((n) => n.feature_type === 'mlp reconstruction error').length,
        neurons: nodes.filter((n) => n.feature_type === 'mlp neuron').length,
        kept: a.prune.keptLinks.length,
        replacement: a.graph.metadata.replacement_score, completeness: a.graph.metadata.completeness_score,
      };
    })()`);
    expect(summary.features).toBeGreaterThan(10);
    expect(summary.errors).toBeGreaterThan(0);
    expect(summary.neurons).toBe(0);
    expect(summary.kept).toBeGreaterThan(0);
    // The scores, as numbers in the panel and the 2D view.
    const shown = Number(await browser.page.getAttribute('[data-testid=replacement-score]', 'data-value'));
    expect(shown).toBeCloseTo(summary.replacement, 10);
    expect(shown).toBeGreaterThan(0);
    expect(shown).toBeLessThanOrEqual(1);
    expect(Number(await browser.page.getAttribute('[data-testid=completeness-score]', 'data-value'))).toBeCloseTo(summary.completeness, 10);
    expect(await browser.page.textContent('[data-testid=circuit-2d-scores]')).toMatch(/replacement score 0?\.\d{3}, completeness 0?\.\d{3}|replacement score 1\.000/);
    // 2D: the view draws the kept feature nodes.
    await browser.page.locator('[data-testid=circuit-dock] svg, [data-testid=circuit-dock] canvas').first().waitFor();
    // 3D: a kept feature node is placed, and the paths add pixels to the canvas.
    featureNode = await state<string>(`(() => { const a = ${analysis}; const kept = new Set(a.prune.keptNodeIds); return a.graph.nodes.find((n) => n.feature_type === 'cross layer transcoder' && kept.has(n.node_id)).node_id; })()`);
    expect(featureNode).toMatch(/^\d+_\d+_\d+$/);
    expect(await state(`window.__circuitsAnalysis.nodeWorldPosition(${JSON.stringify(featureNode)})`)).not.toBeNull();
    await frames(3);
    const withPaths = await canvasPng('features-trace-paths');
    await browser.page.click('[data-testid=show-paths]');
    await frames(3);
    const without = await canvasPng('features-trace-no-paths');
    await browser.page.click('[data-testid=show-paths]');
    const pathPixels = await differingPixels(withPaths, without);
    expect(pathPixels).toBeGreaterThan(50);
    const stats = await screenshotStatistics(browser.page, withPaths, background);
    expect(stats.nonBackgroundFraction).toBeGreaterThan(0.01);
    await shoot('features-trace');
    writeFileSync(join(artifacts, 'features-trace.json'), JSON.stringify({ summary, pathPixels }, null, 2));
    // The Features tab (servers with transcoders only) describes them.
    await browser.page.click('[data-testid=tab-features]');
    await expect.poll(() => browser.page.textContent('[data-testid=transcoder-info]')).toMatch(/4 layers × 2048 features, jumprelu with skip/);
  });

  it('lights the feature clouds with the streamed features, beside and instead of the neuron clouds', async () => {
    await state(`window.__circuits.store.setState({ followLive: false })`);
    await frames(2);
    const before = await canvasPng('features-cloud-off');
    expect(await state<boolean>(`window.__circuits.activations.hasFeatures(window.__circuits.store.getState().position)`)).toBe(false);
    const slabWidth = await state<number>('window.__circuits.layout().slabWidth');
    const neuronPlace = await state<[number, number, number]>(`window.__circuitsAnalysis.nodeWorldPosition(${JSON.stringify(featureNode)})`);

    await browser.page.click('[data-testid=feature-cloud-beside]');
    // Subscribing re-runs the prompt; its frames come back with every layer's active features.
    await waitFor(`${features}.view.getState().subscribed && ${features}.clouds().lit.length === 4 && ${features}.clouds().lit.every((n) => n > 0)`, 60_000);
    const clouds = await state<{ lit: number[]; offsetX: number; position: number }>(`${features}.clouds()`);
    expect(clouds.offsetX).toBeLessThan(-slabWidth / 2);
    expect(await state<boolean | null>(`${features}.clouds().neuronCloudsVisible`)).toBe(true);
    // The shipped transcoders fire about 30 features per token and layer.
    for (const n of clouds.lit) expect(n).toBeLessThan(300);
    // At the position the clouds showed (the re-run may still be moving the shown position).
    const stored = await state<number[]>(`(() => { const c = window.__circuits; return [0, 1, 2, 3].map((l) => c.activations.readFeatureLayer(${clouds.position}, l, new Float32Array(2048))); })()`);
    expect(stored).toEqual(clouds.lit);
    await expect.poll(() => browser.page.textContent('[data-testid=features-active]')).toMatch(/L0 \d+, L1 \d+, L2 \d+, L3 \d+/);
    await frames(3);
    const beside = await canvasPng('features-cloud-beside');
    expect(await differingPixels(before, beside)).toBeGreaterThan(200);
    // The traced graph's feature node now sits in its layer's feature cloud.
    const cloudPlace = await state<[number, number, number]>(`window.__circuitsAnalysis.nodeWorldPosition(${JSON.stringify(featureNode)})`);
    expect(cloudPlace[0]).toBeLessThan(-slabWidth / 2);
    expect(cloudPlace[2]).toBeCloseTo(neuronPlace[2], 5);
    await shoot('features-cloud-beside-page');

    // Click the strongest lit feature of layer 0 in its cloud: the panel explains that feature.
    await browser.page.click('[data-testid=dock-toggle-left]');
    await browser.page.click('[data-testid=circuit-dock-toggle]');
    await frames(3);
    const strongest = await state<number>(`(() => { const c = window.__circuits; const out = new Float32Array(2048); c.activations.readFeatureLayer(c.store.getState().position, 0, out); let best = 0; for (let i = 1; i < out.length; i++) if (out[i] > out[best]) best = i; return best; })()`);
    const at = await state<{ x: number; y: number; visible: boolean }>(`${features}.project(0, ${strongest})`);
    expect(at.visible).toBe(true);
    expect(await state<string>(`document.elementFromPoint(${at.x}, ${at.y})?.tagName`)).toBe('CANVAS');
    await browser.page.mouse.click(at.x, at.y);
    await waitFor(`${features}.view.getState().explained?.layer === 0 && ${features}.view.getState().explained?.index === ${strongest}`, 10_000);
    await browser.page.locator('[data-testid=feature-details][data-layer="0"]').waitFor({ timeout: 120_000 });
    expect(Number(await browser.page.getAttribute('[data-testid=feature-details]', 'data-index'))).toBe(strongest);
    await browser.page.click('[data-testid=dock-toggle-left]');
    await browser.page.click('[data-testid=circuit-dock-toggle]');

    await browser.page.click('[data-testid=feature-cloud-instead]');
    await waitFor(`${features}.clouds().offsetX === 0 && ${features}.clouds().lit.every((n) => n > 0)`, 30_000);
    expect(await state<boolean | null>(`${features}.clouds().neuronCloudsVisible`)).toBe(false);
    await frames(3);
    const instead = await canvasPng('features-cloud-instead');
    expect(await differingPixels(beside, instead)).toBeGreaterThan(200);
    await shoot('features-cloud-instead-page');

    await browser.page.click('[data-testid=feature-cloud-off]');
    await waitFor(`${features}.view.getState().subscribed === false && ${features}.clouds().lit.length === 0`, 30_000);
    // A new run after unsubscribing: neuron-only frames again.
    await browser.page.click('[data-testid=run-button]');
    await waitFor(`window.__circuits.store.getState().runStatus === 'idle' && window.__circuits.store.getState().tokens.length > 0 && window.__circuits.activations.length > 0`, 60_000);
    expect(await state<boolean>(`window.__circuits.activations.hasFeatures(window.__circuits.store.getState().position)`)).toBe(false);
  });

  it('lists features by direct effect in Explain and explains one on demand from the corpus', async () => {
    await browser.page.click('[data-testid=explain-button]');
    await waitFor(`${analysis}.effectsStatus === 'done'`, 120_000);
    await browser.page.click('[data-testid=tab-neurons]');
    await browser.page.locator('[data-testid=feature-effects-panel]').waitFor();
    const listed = await state<{ layer: number; index: number; value: number }[]>(`${analysis}.effects.features.direct`);
    const rows = browser.page.locator('[data-testid=features-raising] [data-testid=feature-effect], [data-testid=features-lowering] [data-testid=feature-effect]');
    expect(await rows.count()).toBe(listed.length);
    // Total effects (every position) listed beside them, as the server sent them.
    const total = await state<{ value: number }[]>(`${analysis}.effects.features.total`);
    expect(total.length).toBeGreaterThan(0);
    expect(await browser.page.locator('[data-testid=features-total-raising] [data-testid=feature-effect], [data-testid=features-total-lowering] [data-testid=feature-effect]').count()).toBe(total.length);
    expect(listed.length).toBeGreaterThan(0);
    // The first raising row is the largest positive direct effect the server sent.
    const raising = listed.filter((f) => f.value > 0);
    expect(Number(await browser.page.locator('[data-testid=features-raising] [data-testid=feature-effect]').first().getAttribute('data-value'))).toBeCloseTo(raising[0]!.value, 10);
    await browser.page.locator('[data-testid=features-raising] [data-testid=feature-pick]').first().click();
    await browser.page.locator('[data-testid=feature-details]').waitFor({ timeout: 180_000 });
    const shown = browser.page.locator('[data-testid=feature-details]');
    expect(Number(await shown.getAttribute('data-layer'))).toBe(raising[0]!.layer);
    expect(Number(await shown.getAttribute('data-index'))).toBe(raising[0]!.index);
    expect(await browser.page.locator('[data-testid=feature-examples] li').count()).toBeGreaterThan(0);
    expect(await browser.page.textContent('[data-testid=feature-stats]')).toMatch(/fires on \d+\.\d+% of [\d,]+ tokens/);
    // Where the answer came from, in a short line: the stored index when it covers the feature, else the scan.
    const source = await state<string>(`${features}.view.getState().details.source`);
    expect(['index', 'scan']).toContain(source);
    expect(await browser.page.getAttribute('[data-testid=feature-source]', 'data-source')).toBe(source);
    expect((await browser.page.textContent('[data-testid=feature-promoted]'))!.trim().length).toBeGreaterThan(0);
    // Histogram and quantile examples, drawn as the neuron panel draws them.
    const sent = await state<{ histogram: { counts: number[] }; quantiles: unknown[] }>(`${features}.view.getState().details`);
    expect(Number(await browser.page.getAttribute('[data-testid=feature-details] [data-testid=neuron-histogram]', 'data-bins'))).toBe(sent.histogram.counts.length);
    expect(sent.quantiles.length).toBeGreaterThan(0);
    expect(await browser.page.locator('[data-testid=feature-quantiles] li').count()).toBe(sent.quantiles.length);
    await browser.page.locator('[data-testid=feature-details]').scrollIntoViewIfNeeded();
    await shoot('features-explain');
  }, 300_000);
});
