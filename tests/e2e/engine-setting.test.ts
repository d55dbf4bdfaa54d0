/**
 * The Inference setting on the page `npm start` serves (headless Chromium, the real server):
 * `?engine=browser` makes the page talk to its engine worker only (no socket.io), which finds the
 * bundled model's files the server mounts at /models/ and runs on several WASM threads (the
 * server's COOP/COEP headers make the page cross-origin isolated); Present is disabled with the reason; the
 * select switches to the server (the page reloads and the server's model comes) and back, and the
 * choice is remembered across a reload without the address parameter.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type BrowserSession } from './browser.js';
import { createPageHelpers } from './page.js';
import { startServer, type RunningServer } from './server.js';

const artifacts = resolve('test-artifacts/e2e');
let server: RunningServer;
let browser: BrowserSession;

const { state, waitFor, shoot } = createPageHelpers({
  browser: () => browser, server: () => server, artifacts,
  snapshot: `(() => { const s = window.__circuits?.store.getState(); return { href: location.href, status: document.querySelector('[data-testid=status]')?.textContent, ...(s ? { connection: s.connection, serverState: s.serverState, model: s.model?.name, error: s.error } : {}) }; })()`,
});

const statusError = `document.querySelector('[data-testid=error]')?.textContent ?? ''`;
const savedEngine = `JSON.parse(localStorage.getItem('circuits-xr:ui') ?? '{}').engine`;

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  await build({ configFile: resolve('vite.config.ts'), logLevel: 'warn' });
  server = await startServer();
  browser = await launchBrowser({ width: 1280, height: 800 });
  browser.page.setDefaultTimeout(60_000);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('Inference setting (server | in this browser)', () => {
  it('runs against the engine worker with ?engine=browser, switches to the server and back, and remembers the choice', async () => {
    const socketRequests: string[] = [];
    browser.page.on('request', (request) => { if (request.url().includes('/socket.io/')) socketRequests.push(request.url()); });
    browser.page.on('websocket', (ws) => socketRequests.push(ws.url()));

    await browser.page.goto(`${server.url}&engine=browser&device=wasm`);
    await waitFor(`(window.__circuits?.store.getState().model?.runtime ?? '').startsWith('in this browser')`, 120_000);
    // The server mounts the bundled model where the worker looks; its COOP/COEP headers make the
    // page cross-origin isolated, so WASM runs on several threads (one per core, up to 4).
    expect(await state<boolean>('self.crossOriginIsolated')).toBe(true);
    const runtime = await state<string>('window.__circuits.store.getState().model.runtime');
    const cores = await state<number>('navigator.hardwareConcurrency');
    expect(runtime).toBe(`in this browser: WASM, ${Math.min(4, cores)} thread${Math.min(4, cores) === 1 ? '' : 's'}`);
    expect(await state<string>('window.__circuits.store.getState().model.name')).toBe('brown-gpt2');
    // How long its start took, step by step (the status bar's tooltip).
    const load = await state<string>('window.__circuits.store.getState().model.runtimeLoad');
    expect(load).toMatch(/^loaded in [\d.]+ s: runtime [\d.]+ s, files [\d.]+ s, model [\d.]+ s, transcoders [\d.]+ s, graphs [\d.]+ s$/);
    console.log(`engine-setting: ${load}`);
    // The bundled transcoders load in the worker too (fetched from models/brown-gpt2/transcoders/).
    expect(await state<number[]>('window.__circuits.store.getState().model.transcoders?.featuresPerLayer')).toEqual([2048, 2048, 2048, 2048]);
    // A run in the worker: every position's frame, and predictions.
    await browser.page.fill('[data-testid=prompt-input]', 'The cat sat on the');
    await browser.page.click('[data-testid=run-button]');
    await waitFor(`(() => { const s = window.__circuits.store.getState(); return s.runStatus === 'idle' && s.tokens.length > 0 && s.framesReady === s.tokens.length && s.predictions.length > 0; })()`, 60_000);
    expect(await browser.page.locator('[data-testid=engine-select]').inputValue()).toBe('browser');
    expect(await browser.page.locator('[data-testid=present-button]').isDisabled()).toBe(true);
    expect(await browser.page.locator('[data-testid=present-unavailable]').textContent()).toBe('Presenting needs inference on the server');
    expect(socketRequests).toEqual([]);
    await shoot('engine-setting-browser');

    // To the server: the page reloads and the server's model arrives over socket.io.
    await Promise.all([browser.page.waitForEvent('load'), browser.page.selectOption('[data-testid=engine-select]', 'server')]);
    await waitFor(`window.__circuits?.store.getState().model?.name === 'brown-gpt2' && window.__circuits.store.getState().connection === 'connected'`);
    expect(await state<string>(savedEngine)).toBe('server');
    expect(new URL(await state<string>('location.href')).searchParams.has('engine')).toBe(false);
    expect(socketRequests.length).toBeGreaterThan(0);
    expect(await browser.page.locator('[data-testid=present-button]').isDisabled()).toBe(false);

    // Back to the browser, kept across a plain reload (no ?engine= in the address).
    await Promise.all([browser.page.waitForEvent('load'), browser.page.selectOption('[data-testid=engine-select]', 'browser')]);
    expect(await state<string>(savedEngine)).toBe('browser');
    await browser.page.reload();
    await waitFor(`(window.__circuits?.store.getState().model?.runtime ?? '').startsWith('in this browser')`, 120_000);
    expect(await browser.page.locator('[data-testid=engine-select]').inputValue()).toBe('browser');
  });
});
