/**
 * `npm run bench -- browser-engine`: the in-browser engine (onnxruntime-web in the page's engine
 * worker) on the bundled model, in headless Chromium, beside the server's figures for the same
 * prompts from the same run (the real server, `npm start`'s code, asked from the same page over
 * socket.io). Everything is timed in the page, end to end through the protocol
 * (tests/e2e/engine-driver.ts): 'run:prompt' until its ack (every frame has come by then), and
 * 'generate:start' at temperature 0 with the time between consecutive 'generate:token' events.
 *
 * Rows:
 * - prefill of a 64- and a 128-token prompt (the context window), median of 5 after a warm-up
 *   (3 on software WebGPU);
 * - per-token generate time: first generated token to last over the steps between, pooled over
 *   greedy generations from 16-token prompts (greedy text may end early at end-of-text);
 * on: the server (ONNX Runtime for Node, CPU); WASM, 1 thread (the `npm start` page with ?threads=1;
 * the page is cross-origin isolated); WASM multi-threaded (dist-static/ served with COOP/COEP by a plain
 * static server, tests/e2e/static-server.ts); WebGPU on SwiftShader (software, Vulkan in the CPU)
 * when Chromium exposes it with flags, else a row saying why.
 * - the size of dist-static/ (tools/build-static.ts), and the time from page load (navigation
 *   start) to the first run's last frame, with the model loaded by the worker in between.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { existsSync } from 'node:fs';
import { buildStatic } from '../tools/build-static.js';
import { chromiumFlags, chromiumPath, webgpuSoftwareFlags } from '../tests/e2e/browser.js';
import { installDriver, type EngineDriver } from '../tests/e2e/engine-driver.js';
import { startServer } from '../tests/e2e/server.js';
import { serveStatic } from '../tests/e2e/static-server.js';
import { ensureClientBuilt } from '../server/main.js';
import { median, row, type BenchRow } from './report.js';

const GROUP = 'browser engine';
const webgpuFlags = webgpuSoftwareFlags;

const text = `It was a cold day in the city , and the people of the town were waiting for the news from the state capital about the new law .
The president of the company said that the board would meet on Monday to discuss the plan , which had been in the works for more than a year .
She opened the door and looked at the man who stood in the hall , his hat in his hand , and for a moment neither of them said anything at all .
In the morning the children went down to the river , where the water was high after the rain of the night before , and the old men sat on the bank .
The committee reported that the cost of the program would be much greater than had been expected when it was first proposed to the legislature .`;

/** A prompt of exactly `n` tokens (the longest run of words that encodes to at most n, told how many). */
async function promptOf(driver: EngineDriver, backend: string, n: number, from = text): Promise<{ prompt: string; tokens: number }> {
  const words = from.split(/\s+/);
  let lo = 1, hi = words.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if ((await driver.tokenize(backend, words.slice(0, mid).join(' '))).length <= n) lo = mid;
    else hi = mid - 1;
  }
  const prompt = words.slice(0, lo).join(' ');
  return { prompt, tokens: (await driver.tokenize(backend, prompt)).length };
}

interface Figures {
  prefill: Map<number, { ms: number; all: number[]; tokens: number }>;
  perToken: { ms: number; steps: number; prompts: number };
}

interface Effort {
  /** Timed runs per prompt length (after one warm-up). */
  reps: number;
  /** Generations (16-token prompts, one per line of the text) and tokens each asks for. */
  generations: number;
  maxTokens: number;
}

/** Prefill (median of `reps` after a warm-up) and per-token generate time on one backend. */
async function measure(driver: EngineDriver, backend: string, lengths: number[], effort: Effort): Promise<Figures> {
  const prefill: Figures['prefill'] = new Map();
  for (const n of lengths) {
    const { prompt, tokens } = await promptOf(driver, backend, n);
    await driver.run(backend, prompt, 10);
    const all: number[] = [];
    for (let i = 0; i < effort.reps; i++) all.push((await driver.run(backend, prompt, 10)).ms);
    prefill.set(n, { ms: median(all), all, tokens });
  }
  // Greedy generation may stop at the end-of-text token after a sentence: several generations
  // (one per line of the text) are pooled. Per token: first token to last over the tokens
  // between, summed over the generations (the gap between two events alone says when the
  // page's busy main thread delivered them, not when the engine made them).
  const lines = text.split('\n');
  let span = 0, steps = 0;
  for (let g = 0; g < effort.generations; g++) {
    const { prompt } = await promptOf(driver, backend, 16, lines[g % lines.length]!);
    if (g === 0) await driver.generate(backend, prompt, 3);
    const generated = await driver.generate(backend, prompt, effort.maxTokens);
    if (generated.steps.length < 2) continue;
    span += generated.steps[generated.steps.length - 1]!.at - generated.steps[0]!.at;
    steps += generated.steps.length - 1;
  }
  return { prefill, perToken: { ms: span / steps, steps, prompts: effort.generations } };
}

function rowsFor(label: string, figures: Figures, note: string): BenchRow[] {
  return [
    ...[...figures.prefill].map(([n, p]) => row(GROUP, `${label}: prefill, ${n}-token prompt (run:prompt to its ack)`, p.ms, 'ms',
      `${p.tokens} tokens; median of ${p.all.map((x) => x.toFixed(0)).join(', ')} ms; ${note}`)),
    row(GROUP, `${label}: generate, per token (16-token prompts)`, figures.perToken.ms, 'ms',
      `${figures.perToken.steps} steps of ${figures.perToken.prompts} greedy generations, first token to last; ${note}`),
  ];
}

const fullEffort: Effort = { reps: 5, generations: 4, maxTokens: 32 };
/** WebGPU on SwiftShader takes seconds per step. */
const softwareGpuEffort: Effort = { reps: 3, generations: 1, maxTokens: 6 };

async function launch(extraFlags: string[] = []): Promise<{ page: Page; close: () => Promise<void> }> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'circuits-bench-engine-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath, headless: true, args: [...chromiumFlags, ...extraFlags], viewport: { width: 1024, height: 700 },
    env: { ...process.env, XDG_RUNTIME_DIR: userDataDir } as Record<string, string>,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(300_000);
  return {
    page,
    close: async () => {
      await Promise.race([context.close().catch(() => {}), new Promise((r) => setTimeout(r, 20_000))]);
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Opens `url`, runs a prompt through the UI as soon as the model is there, and returns the ms from navigation start to its last frame. */
async function loadToFirstRun(page: Page, url: string): Promise<number> {
  const start = Date.now();
  await page.goto(url);
  await page.waitForFunction(`window.__circuits?.store.getState().model != null && window.__circuits.store.getState().connection === 'connected'`, null, { timeout: 300_000 });
  await page.fill('[data-testid=prompt-input]', 'The cat sat on the mat and looked at the');
  await page.click('[data-testid=run-button]');
  await page.waitForFunction(`(() => { const s = window.__circuits.store.getState(); return s.runStatus === 'idle' && s.tokens.length > 0 && s.framesReady === s.tokens.length; })()`, null, { timeout: 300_000, polling: 20 });
  return Date.now() - start;
}

export async function benchBrowserEngine(): Promise<BenchRow[]> {
  if (!existsSync(chromiumPath)) {
    console.log(`browser-engine benchmark skipped: no Chromium at ${chromiumPath}`);
    return [];
  }
  const rows: BenchRow[] = [];
  const lengths = [64, 128];
  // Other work on the machine shows in every figure here: say how busy it was.
  console.log(`browser-engine: load average at start ${loadavg().map((x) => x.toFixed(1)).join(', ')} (${cpus().length} cores)`);
  await ensureClientBuilt((m) => console.log(m));

  // The npm start page (cross-origin isolated): the server over socket.io, and a WASM worker on
  // one thread (?threads=1).
  const server = await startServer();
  try {
    const session = await launch();
    try {
      const { page } = session;
      const loadMs = await loadToFirstRun(page, `${server.url}&engine=browser&device=wasm`);
      const loadInfo = await page.evaluate(`(({ runtime, runtimeLoad }) => runtime + '; ' + runtimeLoad)(window.__circuits.store.getState().model)`) as string;
      rows.push(row(GROUP, 'page load → first run\'s last frame, npm start page, in-browser WASM', loadMs, 'ms', `model fetched and compiled in the worker, then a 10-token run through the UI; ${loadInfo}`));
      await page.goto(`${server.url}&engine=server&device=wasm&threads=1`);
      await page.waitForFunction(`window.__circuits?.store.getState().connection === 'connected'`);
      const driver = await installDriver(page);
      await driver.usePage('server');
      const threads = 'threads: all cores (ONNX Runtime default)';
      rows.push(...rowsFor('server (ONNX Runtime Node, CPU)', await measure(driver, 'server', lengths, fullEffort), `over socket.io from the page; ${threads}`));
      await driver.createWorker('wasm1');
      await driver.connected('wasm1');
      const info = await driver.info('wasm1');
      rows.push(...rowsFor('in-browser WASM, 1 thread', await measure(driver, 'wasm1', lengths, fullEffort), info.runtime ?? ''));
      await driver.close('wasm1');
    } finally {
      await session.close();
    }
  } finally {
    await server.stop();
  }

  // dist-static/ from a plain static server with COOP/COEP: WASM with threads.
  const built = await buildStatic({ log: () => {} });
  rows.push(row(GROUP, 'size of dist-static/', built.bytes / 2 ** 20, 'MB',
    Object.entries(built.parts).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([name, bytes]) => `${name} ${(bytes / 2 ** 20).toFixed(1)}`).join(', ') + ' MB'));
  const isolated = await serveStatic(built.out, { isolationHeaders: true });
  try {
    const session = await launch();
    try {
      const { page } = session;
      const loadMs = await loadToFirstRun(page, `${isolated.url}?device=wasm`);
      const driver = await installDriver(page);
      await driver.usePage('page');
      const info = await driver.info('page');
      rows.push(row(GROUP, 'page load → first run\'s last frame, dist-static (isolated), in-browser WASM', loadMs, 'ms', `${info.runtime ?? ''}; ${info.runtimeLoad ?? ''}`));
      rows.push(...rowsFor(`in-browser WASM, threaded (dist-static, COOP/COEP)`, await measure(driver, 'page', lengths, fullEffort), info.runtime ?? ''));
    } finally {
      await session.close();
    }

    // WebGPU over SwiftShader (software), if Chromium can be made to expose it.
    const gpuSession = await launch(webgpuFlags);
    try {
      const { page } = gpuSession;
      await page.goto(`${isolated.url}?device=webgpu`);
      await page.waitForFunction(`window.__circuits?.store.getState().model != null || window.__circuits?.store.getState().serverState === 'error'`, null, { timeout: 300_000 });
      const adapter = await page.evaluate(`(async () => { if (!navigator.gpu) return 'navigator.gpu is missing'; try { const a = await navigator.gpu.requestAdapter(); if (!a) return 'requestAdapter() gave null'; const i = a.info || {}; return 'adapter: ' + [i.vendor, i.architecture, i.description].filter(Boolean).join(' ') + (a.isFallbackAdapter ? ' (fallback)' : ''); } catch (e) { return 'requestAdapter() threw ' + e.message; } })()`) as string;
      const driver = await installDriver(page);
      await driver.usePage('page');
      const info = await driver.info('page').catch((error: Error) => ({ runtime: undefined, runtimeNotice: error.message }));
      if ((info.runtime ?? '').includes('WebGPU')) {
        rows.push(...rowsFor('in-browser WebGPU, software (SwiftShader)', await measure(driver, 'page', lengths, softwareGpuEffort), `${info.runtime}; ${adapter}`));
      } else {
        rows.push(row(GROUP, 'in-browser WebGPU, software (SwiftShader): not measured', 0, '',
          `Chromium (${webgpuFlags.join(' ')}) gave no usable WebGPU: ${adapter}; the engine said: ${info.runtimeNotice ?? info.runtime}`));
      }
    } finally {
      await gpuSession.close();
    }
  } finally {
    await isolated.close();
  }
  console.log(`browser-engine: load average at end ${loadavg().map((x) => x.toFixed(1)).join(', ')}`);
  return rows;
}
