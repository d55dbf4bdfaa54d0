/**
 * VR polish on an emulated Quest 3 (IWER) in headless Chromium against the real server with the
 * bundled model: the ray's aim feedback (a neuron or token under the ray gets a ring and a label
 * before any trigger), and the in-VR control desk: step to another example, Explain and Trace it
 * with the controller ray alone. Screenshots go to test-artifacts/e2e/ux-vr-*.png.
 * (The panels' geometry — distance, direction, text size, clear of the rail — is checked in
 * tests/client/xr-panels.test.ts.)
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presets } from '../../shared/presets.js';
import { launchBrowser, type BrowserSession } from './browser.js';
import { createPageHelpers } from './page.js';
import { startServer, type RunningServer } from './server.js';

const artifacts = resolve('test-artifacts/e2e');
let server: RunningServer;
let browser: BrowserSession;
const analysis = 'window.__circuitsAnalysis.store.getState()';

const { state, waitFor, xrFrames, enterVr, pullTrigger, shoot } = createPageHelpers({
  browser: () => browser, server: () => server, artifacts,
  snapshot: `(() => { const s = window.__circuits?.store.getState(); const a = window.__circuitsAnalysis?.store.getState(); return s && { runStatus: s.runStatus, aimed: s.aimed, aim: window.__circuits.aimLabel(), controls: window.__circuits.vrControlLines(), effects: a && a.effectsStatus, graph: a && a.graphStatus, error: a && a.error }; })()`,
});

/** Points the right controller's ray at a world point (from where it is). */
async function aim(expression: string): Promise<void> {
  await state(`(async () => {
    const c = window.__circuits;
    const [x, y, z] = ${expression};
    await c.xrStore.getState().emulator.remote.dispatch('look_at', { device: 'controller-right', target: { x, y, z } });
  })()`);
  await xrFrames(6);
}

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  browser = await launchBrowser({ width: 1280, height: 800 });
  browser.page.setDefaultTimeout(60_000);
  await build({ configFile: resolve('vite.config.ts'), logLevel: 'warn' });
  server = await startServer();
  await browser.page.goto(server.url);
  await waitFor(`window.__circuits?.store.getState().model != null && window.__circuits.store.getState().connection === 'connected'`, 120_000);
  await waitFor(`(() => { const s = window.__circuits.store.getState(); return s.runStatus === 'idle' && s.tokens.length > 0 && s.framesReady === s.tokens.length; })()`, 60_000);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('VR', () => {
  it('shows what the ray points at before the trigger', async () => {
    await enterVr();
    const layout = await state<{ columns: number; rows: number }>(`window.__circuits.layout()`);
    const neuron = (layout.rows - 2) * layout.columns + Math.floor(layout.columns / 3);
    await aim(`c.neuronWorldPosition(0, ${neuron})`);
    await waitFor(`(window.__circuits.aimLabel() ?? '').startsWith('L0/N${neuron} ')`, 20_000);
    // Aimed, not selected: no trigger was pulled.
    expect(await state<unknown>(`window.__circuits.store.getState().selection`)).toBeNull();
    await shoot('ux-vr-01-aim-neuron');
    await aim(`c.tokenWorldPosition(1)`);
    await waitFor(`(window.__circuits.aimLabel() ?? '').startsWith('token 1 ')`, 20_000);
    await shoot('ux-vr-02-aim-token');
  });

  it('steps to another example and explains and traces it from the in-VR desk', async () => {
    const before = await state<string>(`${analysis}.prompt`);
    await aim(`c.vrControlPoint('next')`);
    await pullTrigger('right');
    await waitFor(`${analysis}.prompt !== ${JSON.stringify(before)}`, 20_000);
    const prompt = await state<string>(`${analysis}.prompt`);
    expect(presets.map((p) => p.prompt)).toContain(prompt);

    await aim(`c.vrControlPoint('explain')`);
    await pullTrigger('right');
    await waitFor(`${analysis}.effectsStatus === 'done'`, 120_000);
    await waitFor(`window.__circuits.vrControlLines().some((line) => line.startsWith('Δ = '))`, 20_000);
    // The rail shows the example's prompt.
    expect(await state<number>(`window.__circuits.store.getState().tokens.length`)).toBe(await state<number>(`${analysis}.effects.tokens.length`));

    await state(`window.__circuitsAnalysis.store.setState({ maxNodes: 40 })`);
    await aim(`c.vrControlPoint('trace')`);
    await pullTrigger('right');
    await waitFor(`${analysis}.graphStatus === 'done' && ${analysis}.prune != null`, 180_000);
    await waitFor(`window.__circuits.vrControlLines().some((line) => line.startsWith('Circuit: '))`, 20_000);
    await xrFrames(3);
    await shoot('ux-vr-03-desk-traced');
    expect(browser.errors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  });

  it('keeps the traced circuit in the browser and reopens it after a reload', async () => {
    await state(`window.__circuits.xrStore.getState().session?.end()`);
    await waitFor(`window.__circuits.xrStore.getState().session == null`, 20_000);
    const traced = await state<{ nodes: number; prompt: string }>(`({ nodes: ${analysis}.graph.nodes.length, prompt: ${analysis}.prompt })`);
    await browser.page.goto(server.url);
    await waitFor(`window.__circuits?.store.getState().model != null && window.__circuits.store.getState().connection === 'connected'`, 120_000);
    await browser.page.click('[data-testid=recent-graphs-toggle]');
    const entry = browser.page.locator('[data-testid=recent-graph]').first();
    await entry.waitFor();
    await entry.click();
    await waitFor(`${analysis}.graph != null && ${analysis}.graph.nodes.length === ${traced.nodes} && ${analysis}.prune != null`, 60_000);
    expect(await state<string>(`${analysis}.prompt`)).toBe(traced.prompt);
    await waitFor(`window.__circuits.store.getState().tokens.length > 0 && window.__circuits.store.getState().runStatus === 'idle'`, 60_000);
    await shoot('ux-vr-04-recent-reopened');
  });
});
