/**
 * End to end, in headless Chromium against the real server: load the page, run a prompt, see
 * the clouds light up (screenshot pixel statistics), click a neuron and read its panel, choose
 * and play positions on the token rails, generate a few tokens; then enter VR on an emulated Quest 3 (IWER), select a neuron with the right
 * controller's ray, squeeze-grab a token, teleport, walk and snap-turn; finally stop the server
 * and see the page say it is reconnecting. Screenshots go to test-artifacts/e2e/.
 *
 * Model: a small random GPT-2 (GPT-2's own tokenizer, 4 layers × 256 neurons), or the directory
 * named by CIRCUITS_E2E_MODEL ('default' = the server's bundled model). CIRCUITS_E2E_URL tests
 * an already running server instead of starting one. CIRCUITS_E2E_CONSOLE=1 echoes the page's
 * console.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRandomGpt2 } from '../helpers/random-checkpoint.js';
import { launchBrowser, screenshotStatistics, type BrowserSession } from './browser.js';
import { clickableFirstLayerNeuron, createPageHelpers } from './page.js';
import { startServer, type RunningServer } from './server.js';

const artifacts = resolve('test-artifacts/e2e');
const background: [number, number, number] = [5, 6, 10]; // #05060a, the scene's clear colour
const prompt = ' the apple fell from the';

let server: RunningServer;
let browser: BrowserSession;
let modelDir: string | undefined;

const { state, waitFor, xrFrames, enterVr, pullTrigger, shoot } = createPageHelpers({
  browser: () => browser, server: () => server, artifacts,
  snapshot: `(() => { const s = window.__circuits?.store.getState(); return s && { connection: s.connection, runStatus: s.runStatus, framesReady: s.framesReady, tokens: s.tokens.length, selection: s.selection, grabbed: s.grabbed, error: s.error }; })()`,
});

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  browser = await launchBrowser({ width: 1280, height: 800 });
  browser.page.setDefaultTimeout(60_000);
  const external = process.env.CIRCUITS_E2E_URL;
  if (external) {
    // A server someone already started (e.g. `npm start`): test it as it is.
    server = { url: external, port: Number(new URL(external).port), output: () => '', stop: async () => {} };
    return;
  }
  // Test the client as it is now, not a stale build.
  await build({ configFile: resolve('vite.config.ts'), logLevel: 'warn' });
  const model = process.env.CIRCUITS_E2E_MODEL;
  if (!model) {
    modelDir = mkdtempSync(join(tmpdir(), 'circuits-e2e-model-'));
    writeRandomGpt2(modelDir, { nLayer: 4, nEmbd: 64, nHead: 4, nPositions: 128, vocabSize: 50257, seed: 3 });
  }
  server = await startServer({ modelDir: model === 'default' ? undefined : (model ?? modelDir) });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (modelDir) rmSync(modelDir, { recursive: true, force: true });
});

describe('live path in the browser', () => {
  it('runs a prompt and draws lit neuron clouds', async () => {
    await browser.page.goto(server.url);
    await waitFor(`window.__circuits?.store.getState().model != null && window.__circuits.store.getState().connection === 'connected'`, 120_000);
    await browser.page.fill('[data-testid=prompt-input]', prompt);
    await browser.page.click('[data-testid=run-button]');
    await waitFor(`(() => { const s = window.__circuits.store.getState(); return s.runStatus === 'idle' && s.tokens.length > 0 && s.framesReady === s.tokens.length; })()`);
    // Let a few frames render the new activations.
    await browser.page.waitForTimeout(1500);

    const model = await state<{ nLayers: number; neuronsPerLayer: number }>(`window.__circuits.store.getState().model`);
    const nonZero = await state<number>(
      `(() => { const c = window.__circuits; const s = c.store.getState(); let n = 0; for (let l = 0; l < s.model.nLayers; l++) for (let i = 0; i < s.model.neuronsPerLayer; i++) if (c.activations.neuron(s.position, l, i) !== 0) n++; return n; })()`,
    );
    expect(nonZero).toBeGreaterThan(model.nLayers * model.neuronsPerLayer * 0.2);

    const png = await shoot('01-desktop-after-run');
    const stats = await screenshotStatistics(browser.page, png, background);
    const info = await state<{ calls: number; points: number }>(`window.__circuits.rendererInfo()`);
    const frameTimes = await state<{ frames: number; meanMs: number }>(`window.__circuits.frameTimes()`);
    writeFileSync(join(artifacts, '01-desktop-after-run.json'), JSON.stringify({ stats, info, frameTimes }, null, 2));
    expect(frameTimes.frames).toBeGreaterThan(0);
    expect(stats.nonBackgroundFraction).toBeGreaterThan(0.03);
    expect(stats.luminanceVariance).toBeGreaterThan(30);
    expect(stats.distinctColours).toBeGreaterThan(40);
    // Every neuron is drawn, one draw call per layer cloud (plus heads, rail, board, floor).
    expect(info.points).toBe(model.nLayers * model.neuronsPerLayer);
    expect(info.calls).toBeLessThan(model.nLayers + 40);
  });

  it('selects a neuron by clicking it and shows its panel', async () => {
    // A first-layer neuron (in front of every other slab) whose spot on screen is the canvas
    // itself, not an HTML panel lying over it; the upper rows first, clear of the token rail.
    const { neuron, point } = await state<{ neuron: number; point: { x: number; y: number } }>(clickableFirstLayerNeuron);
    await browser.page.mouse.click(point.x, point.y);
    await waitFor(`(() => { const s = window.__circuits.store.getState().selection; return s && s.layer === 0 && s.neuron === ${neuron}; })()`, 10_000);
    await expect.poll(() => browser.page.textContent('[data-testid=selection-id]')).toBe(`blocks.0.mlp neuron ${neuron}`);
    const bars = await browser.page.locator('[data-testid=activation-history] .bar-slot').count();
    const tokens = await state<number>(`window.__circuits.store.getState().tokens.length`);
    expect(bars).toBe(tokens);
    await shoot('02-desktop-neuron-selected');
  });

  it('chooses positions on the rails and plays them in order', async () => {
    const tokens = await state<number>(`window.__circuits.store.getState().tokens.length`);
    await browser.page.click('[data-testid=token-1]');
    await waitFor(`window.__circuits.store.getState().position === 1`, 5_000);
    // The 3D token rail answers clicks too.
    const block = await state<{ x: number; y: number; visible: boolean }>(`window.__circuits.projectToken(2)`);
    expect(block.visible).toBe(true);
    expect(await state<string>(`document.elementFromPoint(${block.x}, ${block.y})?.tagName`)).toBe('CANVAS');
    await browser.page.mouse.click(block.x, block.y);
    await waitFor(`window.__circuits.store.getState().position === 2`, 5_000);
    await browser.page.click('[data-testid=play-button]');
    await waitFor(`(() => { const s = window.__circuits.store.getState(); return !s.playing && s.position === ${tokens - 1}; })()`, 30_000);
  });

  it('generates tokens that stream into the rail', async () => {
    const before = await state<number>(`window.__circuits.store.getState().tokens.length`);
    await browser.page.fill('input[aria-label="tokens to generate"]', '4');
    await browser.page.click('[data-testid=generate-button]');
    await waitFor(`(() => { const s = window.__circuits.store.getState(); return s.runStatus === 'idle' && s.tokens.length >= ${before} + 4 && s.framesReady >= ${before} + 3; })()`, 120_000);
    await browser.page.waitForTimeout(800);
    await shoot('03-desktop-after-generate');
  });

  it('enters VR, selects a neuron with the controller ray and grabs a token by squeezing', async () => {
    await enterVr();

    const layout = await state<{ columns: number; rows: number }>(`window.__circuits.layout()`);
    const neuron = (layout.rows - 2) * layout.columns + Math.floor(layout.columns / 3);
    const before = await state<string[]>(`window.__circuits.xrPanelLines()`);
    expect(before.join('\n')).not.toContain(`blocks.0.mlp neuron ${neuron}`);

    // Aim the right controller's ray at the neuron, then pull the trigger.
    await state(`(async () => {
      const c = window.__circuits;
      const [x, y, z] = c.neuronWorldPosition(0, ${neuron});
      await c.xrStore.getState().emulator.remote.dispatch('look_at', { device: 'controller-right', target: { x, y, z } });
    })()`);
    await xrFrames(6);
    await pullTrigger('right');
    await waitFor(`(() => { const s = window.__circuits.store.getState().selection; return s && s.layer === 0 && s.neuron === ${neuron}; })()`, 20_000);
    await waitFor(`window.__circuits.xrPanelLines().some((line) => line.includes('blocks.0.mlp neuron ${neuron}'))`, 10_000);
    const after = await state<string[]>(`window.__circuits.xrPanelLines()`);
    expect(after).not.toEqual(before);
    await shoot('04-xr-neuron-selected');

    // Point at token 1 and squeeze: the token is grabbed (and shown) while the squeeze is held.
    await state(`(async () => {
      const c = window.__circuits;
      const [x, y, z] = c.tokenWorldPosition(1);
      await c.xrStore.getState().emulator.remote.dispatch('look_at', { device: 'controller-right', target: { x, y, z } });
    })()`);
    await xrFrames(6);
    await state(`window.__circuits.xrStore.getState().emulator.controllers.right.updateButtonValue('squeeze', 1)`);
    await waitFor(`(() => { const s = window.__circuits.store.getState(); return s.grabbed && s.grabbed.kind === 'token' && s.grabbed.position === 1 && s.position === 1; })()`, 20_000);
    await waitFor(`window.__circuits.xrPanelLines().includes('Grabbed: token 1')`, 10_000);
    await shoot('05-xr-token-grabbed');
    await state(`window.__circuits.xrStore.getState().emulator.controllers.right.updateButtonValue('squeeze', 0)`);
    await waitFor(`window.__circuits.store.getState().grabbed === null`, 20_000);

    expect(browser.errors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  });

  it('teleports where a controller ray meets the floor, walks with the left thumbstick and snap-turns with the right', async () => {
    const origin = `(() => { const o = window.__circuits.xrStore.getState().origin; return [o.position.x, o.position.z, o.rotation.y]; })()`;
    const emulator = `window.__circuits.xrStore.getState().emulator`;

    // Point the left controller steeply at the floor just ahead (clear of rail and slabs) and
    // select: the origin (the visitor's feet) lands there.
    // Point the left controller at the floor just ahead (clear of rail and slabs) and pull the
    // trigger: the origin (the visitor's feet) moves so the head is above that point.
    const [x0, z0] = await state<number[]>(origin);
    await state(`${emulator}.remote.dispatch('look_at', { device: 'controller-left', target: { x: 0.3, y: 0, z: -0.9 } })`);
    await xrFrames(6);
    await pullTrigger('left');
    await waitFor(`(() => { const [x, z] = ${origin}; return Math.hypot(x - ${x0}, z - ${z0}) > 0.3; })()`, 20_000);

    const [, z1] = await state<number[]>(origin);
    await state(`${emulator}.controllers.left.updateAxes('thumbstick', 0, -1)`);
    await waitFor(`${origin}[1] < ${z1 - 0.5}`, 20_000);
    await state(`${emulator}.controllers.left.updateAxes('thumbstick', 0, 0)`);

    const [, , yaw0] = await state<number[]>(origin);
    await state(`${emulator}.controllers.right.updateAxes('thumbstick', 1, 0)`);
    await waitFor(`Math.abs(${origin}[2] - ${yaw0}) > 0.4`, 20_000);
    await state(`${emulator}.controllers.right.updateAxes('thumbstick', 0, 0)`);
    const [, , yaw1] = await state<number[]>(origin);
    expect(Math.abs(yaw1 - yaw0)).toBeCloseTo(Math.PI / 6, 2); // one 30° snap
    await shoot('06-xr-after-locomotion');
  });

  it.skipIf(!!process.env.CIRCUITS_E2E_URL)('shows that it is reconnecting when the server goes away', async () => {
    await state(`window.__circuits.xrStore.getState().session?.end()`);
    await server.stop();
    await waitFor(`document.querySelector('[data-testid=status]')?.getAttribute('data-connection') === 'reconnecting'`, 20_000);
    await expect.poll(() => browser.page.textContent('[data-testid=status]')).toContain('reconnecting');
    await shoot('07-desktop-reconnecting');
  });
});
