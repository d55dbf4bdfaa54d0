/**
 * The standalone build in headless Chromium: dist-static/ (built once, or reused while newer than
 * its sources) served by a plain static file server with no app code (static-server.ts). The page
 * talks to its engine worker only: the worker's answer (for now the placeholder's, which checks the
 * bundled model's files and WASM threads) reaches the status bar in words; nothing is fetched from
 * another origin; the server-only controls are gone. With the COOP/COEP headers the page is
 * cross-origin isolated at once; without them the build's service worker makes it so after one
 * reload.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStatic } from '../../tools/build-static.js';
import { launchBrowser, type BrowserSession } from './browser.js';
import { createPageHelpers } from './page.js';
import { serveStatic, type StaticServer } from './static-server.js';

const artifacts = resolve('test-artifacts/e2e');
const distStatic = resolve('dist-static');
let browser: BrowserSession;
let served: StaticServer | undefined;

const { state, waitFor, shoot } = createPageHelpers({
  browser: () => browser,
  server: () => (served ? { output: () => served!.requests.map((r) => `${r.status} ${r.path}`).join('\n') } as never : undefined),
  artifacts,
  snapshot: `(() => { const s = window.__circuits?.store.getState(); return { isolated: self.crossOriginIsolated, href: location.href, status: document.querySelector('[data-testid=status]')?.textContent, ...(s ? { connection: s.connection, serverState: s.serverState, error: s.error } : {}) }; })()`,
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
  const sources = ['client', 'shared', 'vite.config.ts', 'tools/build-static.ts', 'tools/static', 'assets/models/brown-gpt2']
    .map((p) => newestMtime(resolve(p)));
  return statSync(index).mtimeMs >= Math.max(...sources);
}

const engineWords = `document.querySelector('[data-testid=error]')?.textContent ?? ''`;

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  if (!staticBuildIsFresh()) await buildStatic({ log: () => {} });
  browser = await launchBrowser({ width: 1280, height: 800 });
  browser.page.setDefaultTimeout(60_000);
});

afterAll(async () => {
  await browser?.close();
  await served?.close();
});

describe('standalone build (dist-static)', () => {
  it('runs from a plain static server: the engine worker answers in words, all from our own origin, cross-origin isolated', async () => {
    served = await serveStatic(distStatic, { isolationHeaders: true });
    const origin = new URL(served.url).origin;
    const foreign: string[] = [];
    browser.page.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:')) foreign.push(url);
    });
    await browser.page.goto(served.url);
    await waitFor(`(${engineWords}).includes('in-browser engine is not built yet')`);
    const words = await state<string>(engineWords);
    // The worker found the bundled model's files where asset-urls.ts says, and threads (isolated).
    expect(words).toContain('model files found at /models/brown-gpt2/config.json, 4 layers');
    expect(words).toContain('WASM threads available');
    expect(await state<boolean>('self.crossOriginIsolated')).toBe(true);
    await waitFor('window.__circuits != null', 30_000); // the test handle comes with the 3D scene
    expect(await state<string>(`window.__circuits.store.getState().connection`)).toBe('connected');
    // The worker's request came through the static server, from the worker's own script.
    const paths = served.requests.map((r) => `${r.status} ${r.path}`);
    expect(paths).toContain('200 /models/brown-gpt2/config.json');
    expect(paths.some((p) => /^200 \/assets\/worker-[\w-]+\.js$/.test(p))).toBe(true);
    // Nothing needs a server: no socket.io, no room bar, the Inference note instead of the select.
    expect(paths.some((p) => p.includes('socket.io'))).toBe(false);
    expect(await browser.page.locator('[data-testid=present-button]').count()).toBe(0);
    expect(await browser.page.locator('[data-testid=engine-select]').count()).toBe(0);
    expect(await browser.page.locator('[data-testid=engine-note]').textContent()).toBe('Model runs in this browser');
    // What the real engine and VR will fetch is there, with the right types, from this origin.
    const files = await state<Record<string, string>>(`(async () => {
      const out = {};
      for (const path of ['ort/ort-wasm-simd-threaded.jsep.wasm', 'ort/ort-wasm-simd-threaded.jsep.mjs', 'models/brown-gpt2/model.safetensors',
        'models/brown-gpt2/tokenizer.json', 'models/brown-gpt2/transcoders/layer_0.safetensors', 'xr-profiles/profilesList.json', 'xr-profiles/generic-trigger/profile.json', '_headers']) {
        const response = await fetch(path, { method: 'HEAD' });
        out[path] = response.status + ' ' + (response.headers.get('content-type') ?? '');
      }
      return out;
    })()`);
    expect(files['ort/ort-wasm-simd-threaded.jsep.wasm']).toBe('200 application/wasm');
    expect(files['ort/ort-wasm-simd-threaded.jsep.mjs']).toMatch(/^200 text\/javascript/);
    for (const path of Object.keys(files)) expect(files[path], path).toMatch(/^200 /);
    expect(foreign).toEqual([]);
    expect(browser.errors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
    await shoot('standalone-static');
    await served.close();
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
      await page.waitForFunction(`(${engineWords}).includes('WASM threads available')`, null, { timeout: 60_000, polling: 100 });
    } finally {
      await page.close();
    }
  });
});
