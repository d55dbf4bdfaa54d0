/**
 * Issue 12's gaps, in browsers (two headless Chromium pages on one real server, bundled model):
 * - the presenter's tour caption reaches a follower's page through the room's state and shows in
 *   the follower's caption overlay; closing the tour clears it there;
 * - a server on 127.0.0.1 (loopback only): under the QR code, the presenter's page says in words
 *   that phones cannot open the link, and how to start the server so they can.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import type { Tour } from '../../client/state/tour-schema.js';
import { launchBrowser, type BrowserSession } from './browser.js';

const bundled = fileURLToPath(new URL('../../assets/models/brown-gpt2/', import.meta.url));
const tour = JSON.parse(readFileSync(fileURLToPath(new URL('../../assets/tours/induction.json', import.meta.url)), 'utf8')) as Tour;
let server: Awaited<ReturnType<typeof startServer>>;
let browser: BrowserSession;
let presenter: Page;
let follower: Page;

const ready = `window.__circuits?.store.getState().model != null && window.__circuits.store.getState().connection === 'connected'`;
const caption = (page: Page) => page.evaluate(() => document.querySelector('[data-testid=tour-caption] p')?.textContent ?? null);

beforeAll(async () => {
  mkdirSync(resolve('test-artifacts/e2e'), { recursive: true });
  await build({ configFile: resolve('vite.config.ts'), logLevel: 'warn' });
  server = await startServer({ model: bundled, port: 0, host: '127.0.0.1', device: 'cpu', https: false, index: false, log: () => {}, token: 'tour-room-live-token' });
  browser = await launchBrowser({ width: 1100, height: 720 });
  presenter = browser.page;
  presenter.setDefaultTimeout(60_000);
  await presenter.goto(server.pageUrl.replace('127.0.0.1', 'localhost'));
  await presenter.waitForFunction(ready, null, { timeout: 120_000, polling: 100 });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('issue 12 gaps in browsers', () => {
  it('says under the QR code that phones cannot reach a loopback-only server, and how to start it', async () => {
    await presenter.click('[data-testid=present-button]');
    await presenter.waitForSelector('[data-testid=audience-qr]');
    const note = await presenter.textContent('[data-testid=audience-note]');
    expect(note).toMatch(/cannot open this link/);
    expect(note).toContain('npm start -- --https --host 0.0.0.0');
    const link = (await presenter.textContent('[data-testid=audience-link]'))!.trim();
    expect(new URL(link).hostname).toBe('localhost');
    follower = await browser.context.newPage();
    follower.setDefaultTimeout(60_000);
    await follower.goto(link);
    await follower.waitForFunction(`${ready} && window.__circuitsRoom.store.getState().room != null`, null, { timeout: 120_000, polling: 100 });
    // A follower sees no note (it has no audience link).
    expect(await follower.$('[data-testid=audience-note]')).toBeNull();
  });

  it('shows the presenter\'s tour caption on the follower\'s page, and clears it when the tour closes', async () => {
    expect(await caption(follower)).toBeNull();
    await presenter.evaluate(async (t) => {
      const { player } = window.__circuitsTour!;
      if (!player.load(t)) throw new Error(String(player.store.getState().error));
      await player.goTo(0);
    }, tour as unknown as Record<string, unknown>);
    expect(await caption(presenter)).toBe(tour.beats[0]!.caption);
    await follower.waitForFunction((text) => document.querySelector('[data-testid=tour-caption] p')?.textContent === text, tour.beats[0]!.caption, { timeout: 30_000, polling: 100 });
    expect(await follower.textContent('[data-testid=tour-caption]')).toContain('the presenter\'s tour');
    await presenter.evaluate(async () => { await window.__circuitsTour!.player.goTo(1); });
    await follower.waitForFunction((text) => document.querySelector('[data-testid=tour-caption] p')?.textContent === text, tour.beats[1]!.caption, { timeout: 30_000, polling: 100 });
    await presenter.evaluate(() => window.__circuitsTour!.player.close());
    await follower.waitForFunction(() => document.querySelector('[data-testid=tour-caption]') === null, null, { timeout: 30_000, polling: 100 });
    expect(browser.errors.filter((e) => !/favicon|WebGL|GPU/i.test(e))).toEqual([]);
  });
});
