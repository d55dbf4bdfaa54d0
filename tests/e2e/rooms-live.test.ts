/**
 * A live presentation room in the browser: three headless Chromium pages on one real server (the
 * bundled model, in this process so the test can count the model's forward passes). The presenter
 * opens the room with the Present button (audience link and QR code on the page); a desktop
 * follower and, later, a follower in an emulated headset (IWER) join from the audience link.
 * Checked: followers see the presenter's prompt, tokens, predictions, frames, position, neuron,
 * effects, circuit with pins, supernodes and pruning, and open panels; the model runs once per
 * presenter action; the laser; desktop followers glide to the presenter's view, a VR follower's
 * head is never moved and sees an avatar, and "go to presenter" teleports behind a fade; a
 * follower is refused; detach and rejoin; late join and reload get the state at once; control
 * is handed over and taken back. Screenshots: test-artifacts/e2e/rooms-live-*.png.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import { launchBrowser, type BrowserSession } from './browser.js';
import { createPageHelpers } from './page.js';
import type { RunningServer } from './server.js';

const artifacts = resolve('test-artifacts/e2e');
const bundled = fileURLToPath(new URL('../../assets/models/brown-gpt2/', import.meta.url));
let server: Awaited<ReturnType<typeof startServer>>;
const log: string[] = [];
let browser: BrowserSession;
let presenter: Page;
let follower: Page;
let audienceLink = '';

const running = (): RunningServer => ({ url: server.pageUrl, port: 0, output: () => log.join('\n'), stop: async () => {} });
const snapshot = `(() => { const s = window.__circuits?.store.getState(); const r = window.__circuitsRoom?.store.getState(); const a = window.__circuitsAnalysis?.store.getState(); return s && { connection: s.connection, runId: s.runId, runStatus: s.runStatus, tokens: s.tokens.length, frames: s.framesReady, position: s.position, selection: s.selection, error: s.error, room: r && { room: r.room, me: r.memberId, controller: r.controller, following: r.following, error: r.error, state: r.state }, graph: a && a.graphStatus, effects: a && a.effectsStatus }; })()`;
const helpersFor = (page: () => Page) => createPageHelpers({ browser: () => ({ ...browser, page: page() }), server: running, artifacts, snapshot });
const P = helpersFor(() => presenter);
const F = helpersFor(() => follower);

const store = `window.__circuits.store.getState()`;
const room = `window.__circuitsRoom.store.getState()`;
const analysis = `window.__circuitsAnalysis.store.getState()`;
const ready = `window.__circuits?.store.getState().model != null && window.__circuits.store.getState().connection === 'connected'`;

/** A point of the page where the canvas itself is under the mouse (not a docked panel), near the middle. */
async function canvasPoint(page: Page): Promise<{ x: number; y: number }> {
  const point = await page.evaluate(() => {
    const w = window.innerWidth;
    const h = window.innerHeight;
    const candidates: { x: number; y: number; d: number }[] = [];
    for (let y = 40; y < h - 40; y += 20) for (let x = 40; x < w - 40; x += 20) {
      if (document.elementFromPoint(x, y)?.tagName === 'CANVAS') candidates.push({ x, y, d: Math.hypot(x - w / 2, y - h / 2) });
    }
    candidates.sort((a, b) => a.d - b.d);
    return candidates[0] ?? null;
  });
  if (!point) throw new Error('no part of the canvas is free of panels');
  return point;
}

/** Orbits the view: a horizontal drag from a free point of the canvas. */
async function orbit(page: Page, dx: number): Promise<void> {
  const { x, y } = await canvasPoint(page);
  await page.mouse.move(x, y);
  await page.mouse.down();
  for (let i = 1; i <= 10; i++) await page.mouse.move(x + (i * dx) / 10, y + i);
  await page.mouse.up();
}

/** Waits until the room bar says `text` (a regular expression's source). */
async function status(page: Page, text: string): Promise<void> {
  await page.waitForFunction((source) => new RegExp(source).test(document.querySelector('[data-testid=room-status]')?.textContent ?? ''), text, { timeout: 30_000, polling: 100 });
}

async function openPage(url: string): Promise<Page> {
  const page = await browser.context.newPage();
  page.setDefaultTimeout(60_000);
  page.on('pageerror', (error) => browser.errors.push(`pageerror: ${error.message}`));
  await page.goto(url);
  return page;
}

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  await build({ configFile: resolve('vite.config.ts'), logLevel: 'warn' });
  server = await startServer({
    model: bundled, port: 0, host: '127.0.0.1', device: 'cpu', https: false, index: false, log: (m) => void log.push(m), token: 'live-room-token',
  });
  // "localhost", not 127.0.0.1: the XR store emulates a headset there.
  server.pageUrl = server.pageUrl.replace('127.0.0.1', 'localhost');
  browser = await launchBrowser({ width: 1100, height: 720 });
  presenter = browser.page;
  presenter.setDefaultTimeout(60_000);
  await presenter.goto(server.pageUrl);
  await P.waitFor(ready, 120_000);
  // The page's own first run (the default example) has finished.
  await P.waitFor(`${store}.runStatus === 'idle' && ${store}.tokens.length > 0 && ${store}.framesReady === ${store}.tokens.length`, 120_000);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('a live room, presenter and followers in browsers', () => {
  it('opens a room from the Present button and shows the audience link with a QR code', async () => {
    await presenter.click('[data-testid=present-button]');
    await P.waitFor(`document.querySelector('[data-testid=audience-link]') != null`);
    audienceLink = (await presenter.textContent('[data-testid=audience-link]'))!.trim();
    const url = new URL(audienceLink);
    expect([...url.searchParams.keys()]).toEqual(['room']);
    expect(audienceLink).not.toContain('control');
    expect(audienceLink).not.toContain(server.token);
    // The QR code is drawn locally (a PNG data URL) and is a real image of the link's size.
    const qr = await presenter.evaluate(() => {
      const img = document.querySelector('[data-testid=audience-qr]') as HTMLImageElement;
      return { src: img.src.slice(0, 22), w: img.naturalWidth, alt: img.alt };
    });
    expect(qr.src).toBe('data:image/gif;base64,');
    expect(qr.w).toBeGreaterThan(80);
    expect(qr.alt).toContain(audienceLink);
    await status(presenter, '^Presenting');

    follower = await openPage(audienceLink);
    await F.waitFor(`${ready} && ${room}.room != null`, 120_000);
    await status(follower, '^Following the presenter$');
    // The audience page did not run anything of its own.
    expect(await F.state(`${store}.error`)).toBeNull();
  });

  it('shows the presenter\'s run, position, neuron and panels; the model runs once for the whole room', async () => {
    await presenter.fill('[data-testid=prompt-input]', ' the cat sat on the mat because the cat');
    const before = server.host.runner.executions;
    await presenter.click('[data-testid=run-button]');
    await P.waitFor(`${store}.runStatus === 'idle' && ${store}.tokens.map((t) => t.text).join('') === ' the cat sat on the mat because the cat' && ${store}.framesReady === ${store}.tokens.length`);
    const mine = await P.state<{ runId: string; tokens: string; predictions: string }>(`(() => { const s = ${store}; return { runId: s.runId, tokens: JSON.stringify(s.tokens), predictions: JSON.stringify(s.predictions) }; })()`);
    await F.waitFor(`(() => { const s = ${store}; return s.runId === ${JSON.stringify(mine.runId)} && s.runStatus === 'idle' && s.framesReady === s.tokens.length && JSON.stringify(s.tokens) === ${JSON.stringify(mine.tokens)}; })()`);
    expect(await F.state(`JSON.stringify(${store}.predictions)`)).toBe(mine.predictions);
    expect(await F.state(`${analysis}.prompt`)).toBe(' the cat sat on the mat because the cat');
    // One run for two pages: the same forward passes as the presenter alone (the prompt once).
    const once = server.host.runner.executions - before;
    const alone = server.host.runner.executions;
    await new Promise((r) => setTimeout(r, 300));
    expect(server.host.runner.executions).toBe(alone);
    expect(once).toBeGreaterThanOrEqual(1);
    expect(once).toBeLessThanOrEqual(2);

    await P.state(`window.__circuits.store.setState({ position: 4, followLive: false, selection: { layer: 1, neuron: 33 } })`);
    await F.waitFor(`${store}.position === 4 && ${store}.selection?.layer === 1 && ${store}.selection?.neuron === 33`);
    await presenter.click('[data-testid=dock-toggle-left]');
    await F.waitFor(`document.querySelector('[data-testid=dock-left]').classList.contains('closed')`);
    await presenter.click('[data-testid=dock-toggle-left]');
    await F.waitFor(`!document.querySelector('[data-testid=dock-left]').classList.contains('closed')`);
    await F.shoot('rooms-live-01-follower-run');
  });

  it('shows the presenter\'s question, effects and circuit with pins, supernodes and pruning', async () => {
    await presenter.fill('[data-testid=analysis-target]', ' sat');
    await presenter.fill('[data-testid=analysis-distractor]', ' ran');
    await presenter.click('[data-testid=explain-button]');
    await P.waitFor(`${analysis}.effectsStatus === 'done'`, 120_000);
    const delta = await P.state<number>(`${analysis}.effects.logitDiff`);
    await F.waitFor(`${analysis}.effectsStatus === 'done' && ${analysis}.effects.logitDiff === ${delta} && ${analysis}.target === ' sat' && ${analysis}.distractor === ' ran'`);
    expect(await F.state(`${analysis}.effects.neuronDirect.length`)).toBe(await P.state(`${analysis}.effects.neuronDirect.length`));

    await presenter.click('[data-testid=trace-button]');
    await P.waitFor(`${analysis}.graphStatus === 'done' && ${analysis}.prune != null`, 200_000);
    const nodes = await P.state<number>(`${analysis}.graph.nodes.length`);
    await F.waitFor(`${analysis}.graphStatus === 'done' && ${analysis}.graph?.nodes.length === ${nodes}`, 60_000);
    // Pins, a supernode and the pruning thresholds, set on the presenter's page.
    const [a, b] = await P.state<string[]>(`${analysis}.prune.keptNodeIds ? ${analysis}.prune.keptNodeIds.slice(0, 2) : ${analysis}.graph.nodes.filter((n) => !n.node_id.startsWith('E_')).slice(-2).map((n) => n.node_id)`);
    await P.state(`window.__circuitsAnalysis.store.setState({ pinnedIds: [${JSON.stringify(a)}], supernodes: [['pair', ${JSON.stringify(a)}, ${JSON.stringify(b)}]], nodeThreshold: 0.7 })`);
    await F.waitFor(`JSON.stringify(${analysis}.pinnedIds) === ${JSON.stringify(JSON.stringify([a]))} && ${analysis}.supernodes[0]?.[0] === 'pair' && ${analysis}.nodeThreshold === 0.7`);
    await F.waitFor(`document.querySelector('.docks').dataset.tab === 'circuit'`);
    await F.shoot('rooms-live-02-follower-circuit');
  });

  it('refuses a follower\'s attempt to change what the room sees', async () => {
    const shared = await P.state<number>(`${room}.state.position`);
    await follower.fill('[data-testid=prompt-input]', ' a follower tries');
    await follower.click('[data-testid=run-button]');
    await F.waitFor(`(${store}.error ?? '').includes('forbidden') || document.querySelector('[data-testid=run-error]') != null`);
    expect(await follower.textContent('[data-testid=run-error]')).toMatch(/only the presenter may do this/);
    const refused = await F.state<{ ok: boolean; code?: string }>(`new Promise((resolve) => window.__circuits.connection.backend.emit('room:state', { position: 0 }, (r) => resolve({ ok: r.ok, code: r.ok ? undefined : r.error.code })))`);
    expect(refused).toEqual({ ok: false, code: 'forbidden' });
    expect(await P.state(`${room}.state.position`)).toBe(shared);
    // The refused run cleared nothing for good: the room's run is back on the follower's page.
    const runId = await P.state<string>(`${store}.runId`);
    await F.waitFor(`${store}.runId === ${JSON.stringify(runId)} && ${store}.tokens.length > 0 && ${store}.framesReady === ${store}.tokens.length`);
  });

  it('draws the presenter\'s laser for followers, ending on the neuron it points at', async () => {
    const { x, y } = await canvasPoint(presenter);
    await presenter.mouse.move(x + 3, y + 3);
    await presenter.mouse.move(x, y);
    await F.waitFor(`window.__circuitsRoom.laser() != null`, 20_000);
    // What the presenter's mouse is over (as the clouds' hover sets it) ends the beam for everyone.
    await P.state(`window.__circuits.store.setState({ aimed: { kind: 'neuron', layer: 2, neuron: 40 } })`);
    await presenter.mouse.move(x + 1, y);
    const world = await P.state<[number, number, number]>(`window.__circuits.neuronWorldPosition(2, 40)`);
    await F.waitFor(`(() => { const l = window.__circuitsRoom.laser(); return l && Math.hypot(l.to[0] - ${world[0]}, l.to[1] - ${world[1]}, l.to[2] - ${world[2]}) < 1e-3; })()`, 20_000);
    await F.shoot('rooms-live-03-laser');
  });

  it('moves a desktop follower\'s view smoothly to the presenter\'s; detach keeps its own, rejoin follows again', async () => {
    await orbit(presenter, 250);
    const target = await P.state<{ position: number[] }>(`window.__circuitsRoom.view()`);
    const dist = `(() => { const v = window.__circuitsRoom.view(); const t = ${JSON.stringify(target.position)}; return Math.hypot(v.position[0] - t[0], v.position[1] - t[1], v.position[2] - t[2]); })()`;
    // Smooth: some frame shows the follower part way there, then it arrives.
    const seen: number[] = [];
    const end = Date.now() + 30_000;
    while (Date.now() < end) {
      seen.push(await F.state<number>(dist));
      if (seen[seen.length - 1]! < 0.05) break;
      await new Promise((r) => setTimeout(r, 30));
    }
    expect(seen[seen.length - 1]).toBeLessThan(0.05);
    expect(seen.some((d) => d > 0.05 && d < seen[0]! - 0.01)).toBe(true);

    await follower.click('[data-testid=follow-toggle]');
    await F.waitFor(`${room}.following === false`);
    await status(follower, '^Not following: exploring on your own$');
    await F.state(`window.__circuits.store.setState({ position: 1, selection: { layer: 0, neuron: 5 } })`);
    await P.state(`window.__circuits.store.setState({ position: 6 })`);
    await F.waitFor(`${room}.state.position === 6`);
    expect(await F.state(`${store}.position`)).toBe(1);
    expect(await F.state(`${store}.selection`)).toEqual({ layer: 0, neuron: 5 });
    await follower.click('[data-testid=follow-toggle]');
    await F.waitFor(`${store}.position === 6 && ${store}.selection?.neuron === 33`);
    await status(follower, '^Following the presenter$');
  });

  it('gives a late joiner and a reloading follower the room\'s state at once, without running the model', async () => {
    const before = server.host.runner.executions;
    const runId = await P.state<string>(`${store}.runId`);
    const late = await openPage(audienceLink);
    const L = helpersFor(() => late);
    await L.waitFor(`${ready} && ${store}.runId === ${JSON.stringify(runId)} && ${store}.framesReady === ${store}.tokens.length && ${store}.tokens.length > 0 && ${store}.position === 6 && ${analysis}.effectsStatus === 'done' && ${analysis}.graphStatus === 'done' && ${analysis}.pinnedIds.length === 1`, 60_000);
    await L.shoot('rooms-live-04-late-joiner');
    await late.close();
    await follower.reload();
    await F.waitFor(`${ready} && ${store}.runId === ${JSON.stringify(runId)} && ${store}.framesReady === ${store}.tokens.length && ${store}.position === 6`, 60_000);
    expect(server.host.runner.executions).toBe(before);
  });

  it('hands control to a follower and takes it back', async () => {
    const me = await F.state<string>(`${room}.memberId`);
    await presenter.click(`[data-testid="hand-${me}"]`, { timeout: 20_000 });
    await F.waitFor(`${room}.controller === ${JSON.stringify(me)}`);
    await status(follower, '^Presenting');
    await status(presenter, '^Following the presenter$');
    await follower.fill('[data-testid=prompt-input]', ' the follower now drives');
    await follower.click('[data-testid=run-button]');
    await F.waitFor(`${store}.tokens.map((t) => t.text).join('') === ' the follower now drives' && ${store}.runStatus === 'idle'`);
    await P.waitFor(`${store}.tokens.map((t) => t.text).join('') === ' the follower now drives' && ${store}.framesReady === ${store}.tokens.length`);

    await presenter.click('[data-testid=take-control]');
    await P.waitFor(`${room}.controller === ${room}.memberId`);
    await status(presenter, '^Presenting');
    await F.waitFor(`${room}.controller !== ${JSON.stringify(me)}`);
    const refused = await F.state<{ ok: boolean }>(`new Promise((resolve) => window.__circuits.connection.backend.emit('run:prompt', { prompt: ' again' }, (r) => resolve({ ok: r.ok })))`);
    expect(refused.ok).toBe(false);
  });

  it('in a headset: never moves the follower\'s head, shows the presenter\'s avatar, and goes to the presenter with a fade', async () => {
    await F.enterVr();
    const where = async () => F.state<[number, number, number]>(`(() => { const o = window.__circuits.xrStore.getState().origin; o.updateMatrixWorld(true); return [o.position.x, o.position.y, o.position.z]; })()`);
    const originBefore = await where();
    await F.waitFor(`window.__circuitsRoom.avatar() != null`, 30_000);
    // The presenter orbits again: the avatar moves, the follower's origin does not.
    const avatarBefore = await F.state<number[]>(`window.__circuitsRoom.avatar().head`);
    await orbit(presenter, -240);
    const presenterHead = await P.state<number[]>(`window.__circuitsRoom.view().position`);
    await F.waitFor(`(() => { const h = window.__circuitsRoom.avatar()?.head; const t = ${JSON.stringify(presenterHead)}; return h && Math.hypot(h[0] - t[0], h[1] - t[1], h[2] - t[2]) < 1e-3; })()`, 30_000);
    expect(presenterHead).not.toEqual(avatarBefore);
    expect(await where()).toEqual(originBefore);

    const fades: number[] = [];
    await F.state(`window.__fadeSeen = []; (function watch() { window.__fadeSeen.push(window.__circuitsRoom.fade()); if (window.__fadeSeen.length < 400) requestAnimationFrame(watch); })()`);
    await F.state(`window.__circuitsRoom.goToPresenter()`);
    fades.push(...(await F.state<number[]>(`window.__fadeSeen`)));
    const after = await where();
    expect(Math.max(...fades)).toBeGreaterThan(0);
    expect(Math.hypot(after[0] - originBefore[0], after[2] - originBefore[2])).toBeGreaterThan(0.1);
    await F.shoot('rooms-live-05-vr-follower');
  });

  it('shows a presenter in a headset as head and hands, with the controller ray as the laser', async () => {
    await P.enterVr();
    await P.xrFrames(10);
    await F.waitFor(`(() => { const a = window.__circuitsRoom.avatar(); return a && a.hands.length === 2; })()`, 30_000);
    const pose = await F.state<{ vr?: boolean }>(`${room}.camera`);
    expect(pose?.vr).toBe(true);
    // The beam starts at one of the presenter's controllers.
    await F.waitFor(`(() => { const l = window.__circuitsRoom.laser(); const a = window.__circuitsRoom.avatar(); return l && a && a.hands.some((h) => Math.hypot(h[0] - l.from[0], h[1] - l.from[1], h[2] - l.from[2]) < 0.05); })()`, 30_000);
    await F.shoot('rooms-live-06-vr-presenter');
  });
});
