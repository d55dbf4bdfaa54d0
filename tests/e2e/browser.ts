/**
 * Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by playwright-core
 * (never a downloaded browser), a fresh profile per launch, WebGL through SwiftShader, and
 * Blink's own WebXR disabled so the emulated headset (IWER) can install itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const chromiumFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-blink-features=WebXR',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--ignore-gpu-blocklist',
];

/**
 * Flags under which this Chromium exposes WebGPU on SwiftShader's Vulkan (software, on the CPU):
 * the in-browser engine's WebGPU path without a GPU (bench/browser-engine.ts, engine-parity.test.ts).
 */
export const webgpuSoftwareFlags = ['--enable-unsafe-webgpu', '--enable-features=Vulkan,WebGPUService', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--disable-vulkan-surface'];

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  /** Console errors and page errors seen so far. */
  errors: string[];
  close(): Promise<void>;
}

export async function launchBrowser(viewport = { width: 1280, height: 800 }, extraFlags: string[] = []): Promise<BrowserSession> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'circuits-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: [...chromiumFlags, ...extraFlags],
    viewport,
    env: { ...process.env, XDG_RUNTIME_DIR: userDataDir } as Record<string, string>,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  const echo = !!process.env.CIRCUITS_E2E_CONSOLE; // print the page's console, for debugging
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
    if (echo) console.log(`[page ${message.type()}] ${message.text()}`);
  });
  return {
    context,
    page,
    errors,
    async close() {
      // Never let a stuck browser hang the suite's teardown.
      await Promise.race([context.close().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 20_000))]);
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export interface CanvasStatistics {
  width: number;
  height: number;
  /** Pixels that differ from the background colour by more than a small tolerance. */
  nonBackground: number;
  nonBackgroundFraction: number;
  /** Variance of luminance over all pixels (0..255 scale). */
  luminanceVariance: number;
  /** Distinct colours after quantising to 4 bits per channel. */
  distinctColours: number;
}

/** Decodes a PNG screenshot inside the page (the browser is our PNG decoder) and measures it. */
export async function screenshotStatistics(page: Page, png: Buffer, background: [number, number, number]): Promise<CanvasStatistics> {
  const dataUrl = `data:image/png;base64,${png.toString('base64')}`;
  return page.evaluate(
    async ({ dataUrl, background }) => {
      const image = new Image();
      image.src = dataUrl;
      await image.decode();
      const canvas = document.createElement('canvas');
      canvas.width = image.width;
      canvas.height = image.height;
      const context = canvas.getContext('2d')!;
      context.drawImage(image, 0, 0);
      const { data } = context.getImageData(0, 0, image.width, image.height);
      let nonBackground = 0;
      let sum = 0;
      let sumSquares = 0;
      const colours = new Set<number>();
      const pixels = data.length / 4;
      for (let i = 0; i < data.length; i += 4) {
        const r = data[i], g = data[i + 1], b = data[i + 2];
        if (Math.abs(r - background[0]) + Math.abs(g - background[1]) + Math.abs(b - background[2]) > 24) nonBackground++;
        const y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
        sum += y;
        sumSquares += y * y;
        colours.add(((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4));
      }
      const mean = sum / pixels;
      return {
        width: image.width,
        height: image.height,
        nonBackground,
        nonBackgroundFraction: nonBackground / pixels,
        luminanceVariance: sumSquares / pixels - mean * mean,
        distinctColours: colours.size,
      };
    },
    { dataUrl, background },
  );
}
