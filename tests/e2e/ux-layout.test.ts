/**
 * The first screen, measured in headless Chromium against the real server with the bundled model:
 * how much of the 3D canvas the HTML panels cover (sampling `document.elementsFromPoint` on a
 * grid over the canvas: a point is covered when any element lies above the canvas there), over
 * the whole canvas and over its central half (the middle 50% of width and height, where the
 * clouds are), at 1280×800 and 1920×1080, on a first visit (guide open) and after the guide is
 * dismissed, and the share of each layer's neurons lying under a panel; that no docked panel overlaps another or leaves the window; that the first-visit
 * guide closes, stays closed after a reload and reopens from "?"; that dock folding is
 * remembered; that Reset view (button and R key) brings the camera back; and that the legend
 * names every encoding. Screenshots and the measured figures go to test-artifacts/e2e/ux-*.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
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
  snapshot: `(() => { const s = window.__circuits?.store.getState(); return s && { connection: s.connection, runStatus: s.runStatus, tokens: s.tokens.length, error: s.error }; })()`,
});

interface Coverage {
  width: number;
  height: number;
  whole: number;
  central: number;
  samples: number;
}

/** Share of canvas sample points with an element above the canvas, whole and central half. */
const coverage = (): Promise<Coverage> => state<Coverage>(`(() => {
  const canvas = document.querySelector('canvas');
  const rect = canvas.getBoundingClientRect();
  const step = 8;
  let all = 0, covered = 0, mid = 0, midCovered = 0;
  for (let y = rect.top + step / 2; y < rect.bottom; y += step) {
    for (let x = rect.left + step / 2; x < rect.right; x += step) {
      const stack = document.elementsFromPoint(x, y);
      const at = stack.indexOf(canvas);
      const hidden = at !== 0; // something lies above the canvas (or the canvas is not hit at all)
      const central = x >= rect.left + rect.width * 0.25 && x <= rect.right - rect.width * 0.25 && y >= rect.top + rect.height * 0.25 && y <= rect.bottom - rect.height * 0.25;
      all++; if (hidden) covered++;
      if (central) { mid++; if (hidden) midCovered++; }
    }
  }
  return { width: rect.width, height: rect.height, whole: covered / all, central: midCovered / mid, samples: all };
})()`);

/** Docked panels that overlap one another, or reach past the window. */
const overlaps = (): Promise<string[]> => state<string[]>(`(() => {
  // (The left dock's fold button sits on its first panel's corner on purpose, like a close button.)
  const boxes = [...document.querySelectorAll('.dock-left > :not(.dock-toggle), .dock-right > .dock-top, .dock-right > :not(.dock-top), .dock-bottom > *')]
    .map((e) => ({ name: (e.getAttribute('data-testid') || e.className || e.tagName) + '', r: e.getBoundingClientRect(), e }))
    .filter((b) => b.r.width > 0 && b.r.height > 0);
  const problems = [];
  const W = window.innerWidth, H = window.innerHeight;
  for (const b of boxes) {
    // What is visible of a panel is its box clipped by its scrolling dock.
    const dock = b.e.closest('.dock, .dock-bottom').getBoundingClientRect();
    const top = Math.max(b.r.top, dock.top), bottom = Math.min(b.r.bottom, dock.bottom);
    if (bottom <= top) continue;
    b.v = { left: b.r.left, right: b.r.right, top, bottom };
    if (b.r.left < 0 || b.r.right > W + 0.5 || dock.bottom > H + 0.5 || dock.top < 0) problems.push(b.name + ' leaves the window');
  }
  const shown = boxes.filter((b) => b.v);
  for (let i = 0; i < shown.length; i++) for (let j = i + 1; j < shown.length; j++) {
    const a = shown[i].v, c = shown[j].v;
    if (shown[i].e.contains(shown[j].e) || shown[j].e.contains(shown[i].e)) continue;
    if (a.left < c.right - 0.5 && c.left < a.right - 0.5 && a.top < c.bottom - 0.5 && c.top < a.bottom - 0.5) problems.push(shown[i].name + ' overlaps ' + shown[j].name);
  }
  for (const e of document.querySelectorAll('.dock .panel')) if (e.scrollWidth > e.clientWidth + 1) problems.push((e.getAttribute('data-testid') || e.className) + ' overflows sideways');
  return problems;
})()`);

async function ready(): Promise<void> {
  await waitFor(`window.__circuits?.store.getState().model != null && window.__circuits.store.getState().connection === 'connected'`, 120_000);
  // The first visit runs the default example: wait for its frames and predictions.
  await waitFor(`(() => { const s = window.__circuits.store.getState(); return s.runStatus === 'idle' && s.tokens.length > 0 && s.framesReady === s.tokens.length && s.predictions.length > 0; })()`, 60_000);
  await browser.page.waitForTimeout(500);
}

const figures: Record<string, Coverage & { overlaps: string[] }> = {};

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  browser = await launchBrowser({ width: 1280, height: 800 });
  browser.page.setDefaultTimeout(60_000);
  await build({ configFile: resolve('vite.config.ts'), logLevel: 'warn' });
  server = await startServer();
});

afterAll(async () => {
  writeFileSync(join(artifacts, 'ux-layout.json'), JSON.stringify(figures, null, 2));
  await browser?.close();
  await server?.stop();
});

describe('layout and first visit', () => {
  it('covers at most 25% of the canvas and 5% of its centre at 1280×800 on a first visit, with no overlaps', async () => {
    await browser.page.goto(server.url);
    await ready();
    await browser.page.locator('[data-testid=guide]').waitFor();
    const first = await coverage();
    const problems = await overlaps();
    figures['1280x800-first-visit'] = { ...first, overlaps: problems };
    await shoot('ux-01-first-visit-1280x800');
    // The issue's own measure: the share of each layer's neurons whose spot on screen lies under a panel.
    const hiddenNeurons = await state<number[]>(`(() => {
      const c = window.__circuits; const { model } = c.store.getState(); const canvas = document.querySelector('canvas');
      return Array.from({ length: model.nLayers }, (_, layer) => {
        let hidden = 0, shown = 0;
        for (let i = 0; i < model.neuronsPerLayer; i++) {
          const p = c.projectNeuron(layer, i);
          if (!p || !p.visible) continue;
          shown++;
          if (document.elementsFromPoint(p.x, p.y).indexOf(canvas) !== 0) hidden++;
        }
        return hidden / Math.max(1, shown);
      });
    })()`);
    writeFileSync(join(artifacts, 'ux-layout-hidden-neurons.json'), JSON.stringify(hiddenNeurons));
    for (const share of hiddenNeurons) expect(share).toBeLessThanOrEqual(0.05);
    expect(first.width).toBe(1280);
    expect(first.whole).toBeLessThanOrEqual(0.25);
    expect(first.central).toBeLessThanOrEqual(0.05);
    expect(problems).toEqual([]);
    // The sampling sees panels: a dock folded away frees canvas.
    expect(first.whole).toBeGreaterThan(0.02);
  });

  it('closes the guide, keeps it closed after a reload, reopens it from "?"', async () => {
    await browser.page.click('[data-testid=guide-close]');
    await expect.poll(() => browser.page.locator('[data-testid=guide]').count()).toBe(0);
    const closed = await coverage();
    figures['1280x800-guide-closed'] = { ...closed, overlaps: await overlaps() };
    expect(closed.whole).toBeLessThanOrEqual(0.25);
    expect(closed.central).toBeLessThanOrEqual(0.05);
    await browser.page.reload();
    await ready();
    expect(await browser.page.locator('[data-testid=guide]').count()).toBe(0);
    await browser.page.click('[data-testid=guide-button]');
    await browser.page.locator('[data-testid=guide]').waitFor();
    expect(await browser.page.textContent('[data-testid=guide]')).toMatch(/Slabs[\s\S]*Heads[\s\S]*Rail[\s\S]*Board[\s\S]*Try first/);
    await browser.page.click('[data-testid=guide-close]');
  });

  it('folds a dock away and remembers it', async () => {
    const before = await coverage();
    await browser.page.click('[data-testid=dock-toggle-left]');
    await expect.poll(() => browser.page.locator('[data-testid=question-panel]').count()).toBe(0);
    const folded = await coverage();
    expect(folded.whole).toBeLessThan(before.whole - 0.05);
    await browser.page.reload();
    await waitFor(`window.__circuits?.store.getState().model != null`, 120_000);
    expect(await browser.page.locator('[data-testid=question-panel]').count()).toBe(0);
    await browser.page.click('[data-testid=dock-toggle-left]');
    await browser.page.locator('[data-testid=question-panel]').waitFor();
    await ready();
  });

  it('names every encoding in the legend', async () => {
    await browser.page.click('[data-testid=legend-toggle]');
    const text = await browser.page.textContent('[data-testid=legend]');
    for (const word of ['MLP activation', 'Heads', 'Rail', 'Effect strip', 'Rings', 'Circuit paths', 'selected neuron']) expect(text).toContain(word);
    await shoot('ux-02-legend-1280x800');
    await browser.page.click('[data-testid=legend-toggle]');
  });

  it('resets the view with the button and the R key', async () => {
    const camera = () => state<number[]>(`(() => { const c = window.__circuits.camera(); return [c.x, c.y, c.z]; })()`);
    const home = await camera();
    // Fly forward (W), away from the start.
    await browser.page.mouse.click(640, 300);
    // Software-rendered frames can take seconds: hold the key until a few have moved the camera.
    const away = async () => { const c = await camera(); return Math.hypot(c[0]! - home[0]!, c[1]! - home[1]!, c[2]! - home[2]!); };
    await browser.page.keyboard.down('KeyW');
    await expect.poll(away, { timeout: 60_000 }).toBeGreaterThan(0.3);
    await browser.page.keyboard.up('KeyW');
    await browser.page.click('[data-testid=reset-view]');
    await expect.poll(away).toBeLessThan(1e-3);
    await browser.page.keyboard.down('KeyS');
    await expect.poll(away, { timeout: 60_000 }).toBeGreaterThan(0.3);
    await browser.page.keyboard.up('KeyS');
    await browser.page.keyboard.press('KeyR');
    await expect.poll(away).toBeLessThan(1e-3);
  });

  it('covers at most 25% and 5% of the centre at 1920×1080 too', async () => {
    await browser.page.setViewportSize({ width: 1920, height: 1080 });
    // The renderer follows the window on its next frames (slow when software-rendered).
    await waitFor(`document.querySelector('canvas').getBoundingClientRect().width === 1920`, 60_000);
    await browser.page.waitForTimeout(300);
    const wide = await coverage();
    const problems = await overlaps();
    figures['1920x1080'] = { ...wide, overlaps: problems };
    await shoot('ux-03-1920x1080');
    expect(wide.width).toBe(1920);
    expect(wide.whole).toBeLessThanOrEqual(0.25);
    expect(wide.central).toBeLessThanOrEqual(0.05);
    expect(problems).toEqual([]);
    await browser.page.setViewportSize({ width: 1280, height: 800 });
  });
});
