/**
 * Access in the browser, headless Chromium against the real server bound beyond loopback
 * (`--host 0.0.0.0`, so the access token is required): the page opened without the token says in
 * words why it is refused (no token, or an old one, which it then forgets); opened with the printed link it connects, the token leaves the address
 * bar, and a reload keeps working (the tab remembers the token); a prompt longer than the server
 * accepts is stopped in the page with the reason, before anything is sent.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestLimits } from '../../shared/limits.js';
import { launchBrowser, type BrowserSession } from './browser.js';
import { createPageHelpers } from './page.js';
import { startServer, type RunningServer } from './server.js';

const artifacts = resolve('test-artifacts/e2e');
let server: RunningServer;
let browser: BrowserSession;

const { state, waitFor, shoot } = createPageHelpers({
  browser: () => browser, server: () => server, artifacts,
  snapshot: `(() => { const s = window.__circuits?.store.getState(); return s && { connection: s.connection, runStatus: s.runStatus, tokens: s.tokens.length, error: s.error, href: location.href }; })()`,
});

const connectedWithModel = `window.__circuits?.store.getState().model != null && window.__circuits.store.getState().connection === 'connected'`;

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  await build({ configFile: resolve('vite.config.ts'), logLevel: 'warn' });
  server = await startServer({ extraArgs: ['--host', '0.0.0.0'] });
  browser = await launchBrowser({ width: 1280, height: 800 });
  browser.page.setDefaultTimeout(60_000);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('access in the browser', () => {
  it('says why the page is refused when it is opened without the token', async () => {
    expect(server.output()).toMatch(/\?token=/); // npm start printed the link with its token
    await browser.page.goto(server.baseUrl!);
    await waitFor(`window.__circuits?.store.getState().connection === 'disconnected'`, 60_000);
    const shown = await browser.page.textContent('[data-testid=error]');
    expect(shown).toMatch(/this server needs its access token: open the link printed by npm start/);
    expect(await state<unknown>('window.__circuits.store.getState().model')).toBeNull();
    await shoot('access-01-refused');
  });

  it('says the token is wrong for an old link, and forgets it', async () => {
    await browser.page.goto(`${server.baseUrl!}?token=an-old-token-from-yesterday`);
    await waitFor(`window.__circuits?.store.getState().connection === 'disconnected'`, 60_000);
    expect(await browser.page.textContent('[data-testid=error]')).toMatch(/wrong access token\. Open the link printed by npm start/);
    expect(await browser.page.textContent('[data-testid=status]')).toContain('Not connected: the server refused this page');
    expect(await state<string>('location.href')).toBe(server.baseUrl);
    expect(await state<string | null>(`sessionStorage.getItem('circuits-xr-token')`)).toBeNull();
  });

  it('connects with the printed link, takes the token out of the address bar and keeps it over a reload', async () => {
    await browser.page.goto(server.url);
    await waitFor(connectedWithModel, 120_000);
    const href = await state<string>('location.href');
    expect(href).not.toContain('token');
    expect(href).toBe(server.baseUrl);
    expect(await state<string | null>(`sessionStorage.getItem('circuits-xr-token')`)).toBe(server.token);
    await browser.page.fill('[data-testid=prompt-input]', ' the apple fell from the');
    await browser.page.click('[data-testid=run-button]');
    await waitFor(`(() => { const s = window.__circuits.store.getState(); return s.runStatus === 'idle' && s.tokens.length > 0 && s.framesReady === s.tokens.length; })()`);

    await browser.page.reload();
    await waitFor(connectedWithModel, 120_000);
    // The address bar keeps the shareable view (prompt, action), never the token.
    const after = await state<string>('location.href');
    expect(after.startsWith(server.baseUrl!)).toBe(true);
    expect(after).not.toContain('token');
    expect(await state<string | null>(`sessionStorage.getItem('circuits-xr-token')`)).toBe(server.token);
  });

  it('stops a prompt longer than the server accepts, with the reason, before sending it', async () => {
    const long = 'word '.repeat(Math.ceil((requestLimits.promptCharacters + 500) / 5));
    await browser.page.fill('[data-testid=prompt-input]', long);
    await browser.page.click('[data-testid=run-button]');
    await waitFor(`window.__circuits.store.getState().runStatus === 'error'`, 10_000);
    // In plain words beside the prompt (no internal code).
    const shown = await browser.page.textContent('[data-testid=run-error]');
    expect(shown?.toLowerCase()).toContain(`the prompt is ${long.length.toLocaleString('en')} characters; the server accepts at most ${requestLimits.promptCharacters.toLocaleString('en')}`);
    expect(shown).not.toMatch(/too_long/);
    expect(await state<string>('window.__circuits.store.getState().connection')).toBe('connected');
  });
});
