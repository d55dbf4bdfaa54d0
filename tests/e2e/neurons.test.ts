/**
 * End to end, the neuron explanation view in headless Chromium against the real server on the
 * bundled model, with a small corpus index built from scratch in a temporary folder (and test
 * explanations for layer 0 imported there with the CLI): the server starts without building the
 * index; a clicked neuron first shows its logit effects, its imported explanation and a "build the
 * index" notice; the button builds it (the status indicator shows the build to everyone); then
 * the panel shows the neuron's top examples (highlighted tokens, focus outlined) and its
 * statistics, histogram and output tokens — each checked against what the server answers to an
 * independent socket.io client. In emulated VR, a neuron picked with the controller ray fills
 * the in-scene explanation panel. Screenshots go to test-artifacts/e2e/neurons-*.png.
 *
 * CIRCUITS_E2E_CONSOLE=1 echoes the page's console.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { build } from 'vite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IndexStatus, NeuronDetails } from '../../shared/neuron-index.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../../shared/protocol.js';
import { exampleTokenText, formatActivation, formatCount, formatShare } from '../../client/neurons/state/neuron-format.js';
import { launchBrowser, screenshotStatistics, type BrowserSession } from './browser.js';
import { createPageHelpers } from './page.js';
import { startServer, type RunningServer } from './server.js';

const artifacts = resolve('test-artifacts/e2e');
const background: [number, number, number] = [5, 6, 10]; // #05060a, the scene's clear colour
const bundledModel = resolve('assets/models/brown-gpt2');
const prompt = ' the river flowed past the old mill and into the';
/** Corpus tokens for the index: small enough to build in well under a minute here. */
const indexTokens = 24_000;

/** The bundled model's neurons per layer (its config's 4 × n_embd). */
const layer0Neurons = 1024;
const explanationText = (i: number) => `test explanation imported for layer 0, neuron ${i}`;
const explanationScore = (i: number) => Number(((i % 100) / 100).toFixed(2));

let server: RunningServer;
let browser: BrowserSession;
let indexDir: string;
/** The test's own connection to the server, to check the page against. */
let probe: Socket<ServerToClientEvents, ClientToServerEvents>;

const { state, waitFor, xrFrames, enterVr, pullTrigger, shoot } = createPageHelpers({
  browser: () => browser, server: () => server, artifacts,
  snapshot: `(() => { const s = window.__circuits?.store.getState(); const n = window.__circuits?.neurons.getState(); return { app: s && { connection: s.connection, runStatus: s.runStatus, selection: s.selection, error: s.error }, neurons: n && { neuron: n.neuron, status: n.status, error: n.error, index: n.index, indexError: n.indexError, indexed: n.details ? n.details.indexed != null : null } }; })()`,
});

/** What the server itself says about a neuron. */
function serverDetails(layer: number, index: number): Promise<NeuronDetails> {
  return new Promise((resolve, reject) => {
    probe.timeout(30_000).emit('neuron:details', { layer, index }, (error, response) => {
      if (error) reject(error);
      else if (!response.ok) reject(new Error(`${response.error.code}: ${response.error.message}`));
      else resolve(response.value);
    });
  });
}

function serverIndexStatus(): Promise<IndexStatus> {
  return new Promise((resolve, reject) => {
    probe.timeout(30_000).emit('index:status', (error, response) => {
      if (error) reject(error);
      else if (!response.ok) reject(new Error(`${response.error.code}: ${response.error.message}`));
      else resolve(response.value);
    });
  });
}

/** A first-layer neuron whose spot on screen is the canvas itself (no HTML panel over it). */
async function clickableNeuron(skip: number[] = []): Promise<{ neuron: number; point: { x: number; y: number } }> {
  return state(`(() => {
    const c = window.__circuits;
    const skip = new Set(${JSON.stringify(skip)});
    const { columns, rows, neuronsPerLayer } = c.layout();
    for (let row = rows - 2; row >= 0; row--) {
      for (const fraction of [0.5, 0.3, 0.7, 0.15, 0.85, 0.4, 0.6]) {
        const neuron = row * columns + Math.floor(fraction * (columns - 1));
        if (neuron >= neuronsPerLayer || skip.has(neuron)) continue;
        const point = c.projectNeuron(0, neuron);
        if (point && point.visible && document.elementFromPoint(point.x, point.y)?.tagName === 'CANVAS') return { neuron, point };
      }
    }
    throw new Error('no first-layer neuron is visible on the canvas');
  })()`);
}

beforeAll(async () => {
  if (!existsSync(join(bundledModel, 'model.safetensors'))) throw new Error(`the bundled model is missing: ${bundledModel}`);
  mkdirSync(artifacts, { recursive: true });
  indexDir = mkdtempSync(join(tmpdir(), 'circuits-e2e-index-'));
  await build({ configFile: resolve('vite.config.ts'), logLevel: 'warn' });
  // Explanations for every layer-0 neuron (whichever one the test clicks), imported as a user would.
  const csv = join(indexDir, 'explanations.csv');
  const lines = Array.from({ length: layer0Neurons }, (_, i) => `0,${i},"${explanationText(i)}",${explanationScore(i)}`);
  writeFileSync(csv, `layer,neuron,explanation,score\n${lines.join('\n')}\n`);
  execFileSync('npx', ['tsx', 'server/cli.ts', 'explanations', '--model', bundledModel, '--index-dir', indexDir, '--import', csv], { stdio: 'pipe', timeout: 120_000 });
  server = await startServer({ modelDir: bundledModel, extraArgs: ['--index-dir', indexDir, '--index-tokens', String(indexTokens), '--no-index'] });
  probe = io(server.url, { transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve, reject) => {
    probe.once('connect', () => resolve());
    probe.once('connect_error', reject);
  });
  browser = await launchBrowser({ width: 1280, height: 800 });
  browser.page.setDefaultTimeout(60_000);
  // React reports render errors through window 'error' events, which playwright's pageerror can miss.
  await browser.page.addInitScript(`window.__uncaught = []; window.addEventListener('error', (e) => window.__uncaught.push(String(e.message) + ' ' + (e.error && e.error.stack)));`);
});

afterEach(async () => {
  const uncaught = await state<string[]>('window.__uncaught ?? []');
  expect(uncaught).toEqual([]);
});

afterAll(async () => {
  probe?.close();
  await browser?.close();
  await server?.stop();
  if (indexDir) rmSync(indexDir, { recursive: true, force: true });
});

describe('neuron explanation view in the browser', () => {
  let first: number;

  it('before the index exists, a clicked neuron shows its logit effects and builds the index on request', async () => {
    expect((await serverIndexStatus()).state).toBe('absent');
    await browser.page.goto(server.url);
    await waitFor(`window.__circuits?.store.getState().model != null && window.__circuits.store.getState().connection === 'connected'`, 120_000);
    await waitFor(`window.__circuits.neurons.getState().index?.state === 'absent'`, 30_000);
    await browser.page.fill('[data-testid=prompt-input]', prompt);
    await browser.page.click('[data-testid=run-button]');
    await waitFor(`(() => { const s = window.__circuits.store.getState(); return s.runStatus === 'idle' && s.tokens.length > 0 && s.framesReady === s.tokens.length; })()`);
    await browser.page.waitForTimeout(1000);

    const { neuron, point } = await clickableNeuron();
    first = neuron;
    await browser.page.mouse.click(point.x, point.y);
    await waitFor(`(() => { const s = window.__circuits.store.getState().selection; return s && s.layer === 0 && s.neuron === ${neuron}; })()`, 10_000);
    await waitFor(`document.querySelector('[data-testid=neuron-details]')?.getAttribute('data-status') === 'ready'`, 30_000);
    const expected = await serverDetails(0, neuron);
    expect(expected.indexed).toBeNull();
    // Logit effects come from the weights alone: shown without the index.
    const promoted = await browser.page.locator('[data-testid=neuron-promoted] li').evaluateAll((items) => items.map((li) => Number(li.getAttribute('data-token-id'))));
    expect(promoted.length).toBeGreaterThan(0);
    expect(promoted).toEqual(expected.promoted.slice(0, promoted.length).map((e) => e.token.id));
    // The imported explanation does not need the index either.
    expect(expected.explanation).toMatchObject({ text: explanationText(neuron), score: explanationScore(neuron) });
    expect(await browser.page.textContent('[data-testid=neuron-explanation] .explanation-text')).toBe(`“${explanationText(neuron)}”`);
    expect(await browser.page.textContent('[data-testid=neuron-explanation] .muted')).toContain(`score ${explanationScore(neuron).toFixed(2)}`);
    await browser.page.locator('[data-testid=neuron-index-notice][data-state=absent]').waitFor();
    expect(await browser.page.locator('[data-testid=neuron-top-example]').count()).toBe(0);
    await shoot('neurons-01-no-index');

    // Record every index state the page is told of, and what the status indicator said.
    await state(`(() => {
      window.__indexStates = [];
      window.__circuits.neurons.subscribe((s, p) => { if (s.index !== p.index && s.index) window.__indexStates.push(s.index); });
      window.__indicatorTexts = [];
      new MutationObserver(() => {
        const el = document.querySelector('[data-testid=index-status]');
        if (el) window.__indicatorTexts.push(el.getAttribute('data-state') + ': ' + el.textContent);
      }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    })()`);
    await browser.page.click('[data-testid=build-index]');
    // A picture of the build in progress when it is still running (a fast machine may finish first).
    const building = browser.page.locator('[data-testid=index-status][data-state=building]');
    if (await building.waitFor({ timeout: 5000 }).then(() => true, () => false)) await shoot('neurons-01b-building');
    await waitFor(`window.__circuits.neurons.getState().index?.state === 'ready'`, 180_000);
    const seen = await state<IndexStatus[]>('window.__indexStates');
    expect(seen.some((s) => s.state === 'building')).toBe(true);
    const indicator = await state<string[]>('window.__indicatorTexts');
    expect(indicator.some((text) => /^building: Indexing /.test(text))).toBe(true);
    const ready = await serverIndexStatus();
    expect(ready.state).toBe('ready');
    expect(ready.done).toBeGreaterThan(0);
    // Once ready the indicator goes, and the shown neuron is fetched again with its corpus data.
    await waitFor(`document.querySelector('[data-testid=index-status]') == null`, 10_000);
    await waitFor(`document.querySelectorAll('[data-testid=neuron-top-example]').length >= 10`, 30_000);
  });

  it('shows the top examples with highlighted tokens and the statistics the server holds', async () => {
    const expected = await serverDetails(0, first);
    const indexed = expected.indexed!;
    expect(indexed).not.toBeNull();
    expect(indexed.topExamples.length).toBeGreaterThanOrEqual(10);

    // Statistics: the raw numbers the server sent, written as the panel writes them.
    const stats = await browser.page.locator('[data-testid=neuron-stat]').evaluateAll((cells) =>
      Object.fromEntries(cells.map((c) => [c.getAttribute('data-key'), { value: Number(c.getAttribute('data-value')), text: c.querySelector('dd')?.textContent }])),
    );
    expect(stats.max).toEqual({ value: indexed.stats.max, text: formatActivation(indexed.stats.max) });
    expect(stats.min).toEqual({ value: indexed.stats.min, text: formatActivation(indexed.stats.min) });
    expect(stats.mean).toEqual({ value: indexed.stats.mean, text: formatActivation(indexed.stats.mean) });
    expect(stats.frequency).toEqual({ value: indexed.stats.frequency, text: formatShare(indexed.stats.frequency) });
    expect(stats.count).toEqual({ value: indexed.stats.count, text: formatCount(indexed.stats.count) });
    expect(indexed.stats.count).toBeGreaterThan(indexTokens / 2);
    expect(await browser.page.getAttribute('[data-testid=neuron-histogram]', 'data-bins')).toBe(String(indexed.histogram.counts.length));
    expect(await browser.page.locator('[data-testid=neuron-histogram] rect').count()).toBe(indexed.histogram.counts.length);

    // Top examples: the first ten shown, in the server's order, with its tokens and values.
    const rows = await browser.page.locator('[data-testid=neuron-top-example]').evaluateAll((items) =>
      items.map((li) => {
        const focus = li.querySelectorAll('.example-token.focus');
        const style = focus[0] ? getComputedStyle(focus[0]) : null;
        return {
          value: Number(li.getAttribute('data-value')),
          text: [...li.querySelectorAll('.example-token')].map((t) => t.textContent).join(''),
          focusCount: focus.length,
          focusBackground: style?.backgroundColor ?? '',
          focusOutline: style?.outlineStyle ?? '',
          painted: [...li.querySelectorAll<HTMLElement>('.example-token')].filter((t) => t.style.background !== 'transparent').length,
        };
      }),
    );
    expect(rows.length).toBe(10);
    rows.forEach((row, i) => {
      const example = indexed.topExamples[i]!;
      expect(row.value).toBe(example.value);
      expect(row.text.trim().length).toBeGreaterThan(0);
      expect(row.text).toBe(example.tokens.map((t) => exampleTokenText(t.text)).join(''));
      expect(row.focusCount).toBe(1);
      expect(row.focusOutline).toBe('solid');
      // The focus token is the window's maximum: painted, not the panel's background.
      expect(row.focusBackground).not.toMatch(/^(transparent|rgba\(0, 0, 0, 0\))$/);
      expect(row.painted).toBeGreaterThanOrEqual(1);
    });
    const topFocus = await browser.page.locator('[data-testid=neuron-top-example]').first().locator('.example-token.focus').textContent();
    expect(topFocus).toBe(exampleTokenText(indexed.topExamples[0]!.tokens[indexed.topExamples[0]!.focus]!.text));

    await browser.page.waitForTimeout(500);
    const png = await shoot('neurons-02-desktop-details');
    const whole = await screenshotStatistics(browser.page, png, background);
    expect(whole.nonBackgroundFraction).toBeGreaterThan(0.2);
    expect(whole.distinctColours).toBeGreaterThan(60);
    const panelPng = await browser.page.locator('[data-testid=neuron-details]').screenshot({ path: join(artifacts, 'neurons-03-panel.png') });
    const panel = await screenshotStatistics(browser.page, panelPng, background);
    expect(panel.luminanceVariance).toBeGreaterThan(100);
    expect(panel.distinctColours).toBeGreaterThan(40);

    // All of them on request.
    await browser.page.click('[data-testid=neuron-examples-toggle]');
    await expect.poll(() => browser.page.locator('[data-testid=neuron-top-example]').count()).toBe(indexed.topExamples.length);
    await browser.page.click('[data-testid=neuron-examples-toggle]');
    await expect.poll(() => browser.page.locator('[data-testid=neuron-top-example]').count()).toBe(10);
  });

  it('in emulated VR, a neuron picked with the controller ray fills the in-scene explanation panel', async () => {
    await enterVr();

    const layout = await state<{ columns: number; rows: number }>(`window.__circuits.layout()`);
    let neuron = (layout.rows - 2) * layout.columns + Math.floor(layout.columns / 3);
    if (neuron === first) neuron += 1;
    const before = await state<string[]>(`window.__circuits.neuronPanelLines()`);
    expect(before[0]).toBe(`blocks.0.mlp neuron ${first}`);

    await state(`(async () => {
      const c = window.__circuits;
      const [x, y, z] = c.neuronWorldPosition(0, ${neuron});
      await c.xrStore.getState().emulator.remote.dispatch('look_at', { device: 'controller-right', target: { x, y, z } });
    })()`);
    await xrFrames(6);
    await pullTrigger('right');
    await waitFor(`(() => { const s = window.__circuits.store.getState().selection; return s && s.layer === 0 && s.neuron === ${neuron}; })()`, 20_000);
    await waitFor(`(() => { const lines = window.__circuits.neuronPanelLines(); return lines[0] === 'blocks.0.mlp neuron ${neuron}' && lines.includes('Top examples'); })()`, 30_000);
    const after = await state<string[]>(`window.__circuits.neuronPanelLines()`);
    expect(after).not.toEqual(before);
    // Drawn when what it says changes, not per frame.
    const drawnVersion = await state<number>(`window.__circuits.neuronPanelVersion()`);
    await xrFrames(30);
    expect(await state<number>(`window.__circuits.neuronPanelVersion()`)).toBe(drawnVersion);

    // What it says is the server's: statistics, the first top examples, the output tokens.
    const expected = await serverDetails(0, neuron);
    const indexed = expected.indexed!;
    expect(after).toContain(`max ${formatActivation(indexed.stats.max)} · min ${formatActivation(indexed.stats.min)} · mean ${formatActivation(indexed.stats.mean)} · active ${formatShare(indexed.stats.frequency)} · tokens ${formatCount(indexed.stats.count)}`);
    const { edges, counts } = indexed.histogram;
    expect(after).toContain(`Histogram: ${counts.length} bins, ${formatActivation(edges[0]!)} … ${formatActivation(edges[edges.length - 1]!)}`);
    const exampleLines = after.slice(after.indexOf('Top examples') + 1).filter((line) => !/^(Promotes|Suppresses):/.test(line));
    expect(exampleLines.length).toBe(Math.min(5, indexed.topExamples.length));
    exampleLines.forEach((line, i) => {
      const example = indexed.topExamples[i]!;
      expect(line.startsWith(`${formatActivation(example.value)}  `)).toBe(true);
      expect(line).toContain(`[${exampleTokenText(example.tokens[example.focus]!.text)}]`);
    });
    expect(after[1]).toBe(`“${explanationText(neuron)}” (score ${explanationScore(neuron).toFixed(2)})`);
    expect(after.find((line) => line.startsWith('Promotes: '))).toContain(formatActivation(expected.promoted[0]!.value));
    expect(after.find((line) => line.startsWith('Suppresses: '))).toContain(formatActivation(expected.suppressed[0]!.value));

    // The panel's texture as drawn: highlighted tokens and bars, not a blank card.
    const texture = await state<string | null>(`window.__circuits.neuronPanelImage()`);
    expect(texture).toMatch(/^data:image\/png;base64,/);
    const texturePng = Buffer.from(texture!.slice('data:image/png;base64,'.length), 'base64');
    writeFileSync(join(artifacts, 'neurons-05-xr-panel-texture.png'), texturePng);
    const drawn = await screenshotStatistics(browser.page, texturePng, [14, 16, 22]);
    expect(drawn.nonBackgroundFraction).toBeGreaterThan(0.1);
    expect(drawn.distinctColours).toBeGreaterThan(30);

    // Turn to the panel (on the visitor's right, a child of the XR origin, still at the
    // entrance here), the right controller lowered out of the way, for the screenshot.
    await state(`(async () => {
      const remote = window.__circuits.xrStore.getState().emulator.remote;
      await remote.dispatch('set_transform', { device: 'controller-right', position: { x: 0.35, y: 0.75, z: -0.25 } });
      await remote.dispatch('look_at', { device: 'headset', target: { x: 0.78, y: 1.2, z: -0.85 }, moveToDistance: 0.8 });
    })()`);
    await xrFrames(6);
    const png = await shoot('neurons-04-xr-panel');
    const stats = await screenshotStatistics(browser.page, png, background);
    expect(stats.nonBackgroundFraction).toBeGreaterThan(0.1);
    expect(stats.distinctColours).toBeGreaterThan(40);

    await state(`window.__circuits.xrStore.getState().session?.end()`);
    await waitFor(`window.__circuits.xrStore.getState().session == null`, 20_000);
    expect(browser.errors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  });
});
