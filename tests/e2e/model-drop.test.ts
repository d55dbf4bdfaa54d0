/**
 * Running your own model in the browser (headless Chromium, the real server, the engine in the
 * page's worker on WASM): a model folder picked with "Open model…" (a webkitdirectory input)
 * replaces the bundled model, the status bar names it and a prompt runs on it; a folder whose
 * config is GPT-2-XL-sized is refused in words before its weights are read; a folder without a
 * model is refused naming its files; files dropped onto the page (drag overlay shown only while
 * dragging) load too; a page served with inference on the server says how to switch.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type BrowserSession } from './browser.js';
import { createPageHelpers } from './page.js';
import { startServer, type RunningServer } from './server.js';
import { needSharedFixtures, stories260K } from '../helpers/shared-fixtures.js';

const artifacts = resolve('test-artifacts/e2e');
const bundled = resolve('assets/models/brown-gpt2');
let server: RunningServer;
let browser: BrowserSession;
let folders: string;

const { state, waitFor, shoot } = createPageHelpers({
  browser: () => browser, server: () => server, artifacts,
  snapshot: `(() => { const s = window.__circuits?.store.getState(); return { status: document.querySelector('[data-testid=status]')?.textContent, drop: document.querySelector('[data-testid=model-drop-status],[data-testid=model-refusal]')?.textContent, ...(s ? { connection: s.connection, serverState: s.serverState, model: s.model?.name, error: s.error, run: s.runStatus } : {}) }; })()`,
});

const modelName = `window.__circuits?.store.getState().model?.name`;
const refusal = `document.querySelector('[data-testid=model-refusal] span')?.textContent ?? ''`;

/** A folder under the temp dir with `files` (name → contents or a file to copy). */
function folder(name: string, files: Record<string, string | { copy: string }>): string {
  const dir = join(folders, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    if (typeof content === 'string') writeFileSync(join(dir, file), content);
    else copyFileSync(content.copy, join(dir, file));
  }
  return dir;
}

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  folders = mkdtempSync(join(tmpdir(), 'circuits-drop-'));
  await build({ configFile: resolve('vite.config.ts'), logLevel: 'warn' });
  server = await startServer();
  browser = await launchBrowser({ width: 1280, height: 800 });
  browser.page.setDefaultTimeout(60_000);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (folders) rmSync(folders, { recursive: true, force: true });
});

describe('a model folder run in the browser', () => {
  it('opens a picked folder in a new engine worker and runs a prompt on it; refuses a too-large and a model-less folder in words', async () => {
    await browser.page.goto(`${server.url}&engine=browser&device=wasm`);
    await waitFor(`(window.__circuits?.store.getState().model?.runtime ?? '').startsWith('in this browser')`, 180_000);
    expect(await state<string>(modelName)).toBe('brown-gpt2');
    // First view: a small button, no overlay.
    expect(await browser.page.locator('[data-testid=open-model]').isVisible()).toBe(true);
    expect(await browser.page.locator('[data-testid=model-drop-overlay]').count()).toBe(0);
    await shoot('model-drop-first-view');

    // The bundled model's folder under another name, with its model card, golden files and a sub-folder beside it.
    const mine = folder('my-gpt2', {
      'config.json': { copy: join(bundled, 'config.json') }, 'model.safetensors': { copy: join(bundled, 'model.safetensors') },
      'tokenizer.json': { copy: join(bundled, 'tokenizer.json') }, 'tokenizer_config.json': { copy: join(bundled, 'tokenizer_config.json') },
      'MODEL_CARD.md': { copy: join(bundled, 'MODEL_CARD.md') }, 'golden.safetensors': { copy: join(bundled, 'golden.safetensors') },
    });
    folder('my-gpt2/transcoders', { 'notes.txt': 'not needed' });
    await browser.page.setInputFiles('[data-testid=model-folder-input]', mine);
    await waitFor(`${modelName} === 'my-gpt2'`, 180_000);
    expect(await state<string>('window.__circuits.store.getState().model.runtime')).toMatch(/^in this browser: WASM/);
    expect(await browser.page.locator('[data-testid=status] .status-text').textContent()).toBe('my-gpt2: 4 layers × 1024 neurons · in browser');
    expect(await browser.page.locator('[data-testid=model-drop-status]').count()).toBe(0);
    await browser.page.fill('[data-testid=prompt-input]', 'The cat sat on the');
    await browser.page.click('[data-testid=run-button]');
    await waitFor(`(() => { const s = window.__circuits.store.getState(); return s.runStatus === 'idle' && s.tokens.length > 0 && s.framesReady === s.tokens.length && s.predictions.length > 0; })()`, 120_000);
    expect(await state<string | null>('window.__circuits.store.getState().error')).toBeNull();
    await shoot('model-drop-loaded');

    // GPT-2-XL's shape: refused from its config before the (dummy) weights are read; the model stays.
    const xl = folder('gpt2-xl', {
      'config.json': JSON.stringify({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd: 1600, n_layer: 48, n_head: 25 }),
      'model.safetensors': 'not really 6 GB',
    });
    await browser.page.setInputFiles('[data-testid=model-folder-input]', xl);
    await waitFor(`(${refusal}).length > 0`);
    const words = await state<string>(refusal);
    expect(words).toMatch(/^gpt2-xl needs about \d+\.\d GB in this browser \(weights 6\.6 GB as float32 /);
    expect(words).toContain('more than the 4 GB a WebAssembly engine can address; run it on the server instead (npm start -- --model <folder>)');
    expect(await browser.page.locator('[data-testid=model-refusal]').isVisible()).toBe(true);
    await shoot('model-drop-refused');
    expect(await state<string>(modelName)).toBe('my-gpt2');

    // No model in the folder: refused, naming what was found.
    const holiday = folder('holiday', { 'photo.jpg': 'jpeg', 'notes.txt': 'hello' });
    await browser.page.setInputFiles('[data-testid=model-folder-input]', holiday);
    await waitFor(`(${refusal}).startsWith('holiday:')`);
    expect(await state<string>(refusal)).toMatch(/^holiday: no model found among 2 files \((photo\.jpg, notes\.txt|notes\.txt, photo\.jpg)\); expected a Hugging Face folder/);
    await browser.page.click('[data-testid=model-refusal-close]');
    expect(await browser.page.locator('[data-testid=model-refusal]').count()).toBe(0);
  });

  it('loads files dropped onto the page (the overlay shows while dragging)', async () => {
    // A drop made by the page's script: DataTransfer items with the bundled model's files, fetched.
    await state(`(async () => {
      const transfer = new DataTransfer();
      for (const name of ['config.json', 'model.safetensors', 'tokenizer.json']) {
        const bytes = await (await fetch('/models/brown-gpt2/' + name)).arrayBuffer();
        transfer.items.add(new File([bytes], name));
      }
      window.__dropTransfer = transfer;
      window.dispatchEvent(new DragEvent('dragenter', { dataTransfer: transfer, bubbles: true }));
    })()`);
    await waitFor(`!!document.querySelector('[data-testid=model-drop-overlay]')`);
    expect(await browser.page.locator('[data-testid=model-drop-overlay]').textContent()).toContain('Drop a model folder to run it in this browser');
    await shoot('model-drop-dragging');
    await state(`window.dispatchEvent(new DragEvent('drop', { dataTransfer: window.__dropTransfer, bubbles: true, cancelable: true }))`);
    expect(await browser.page.locator('[data-testid=model-drop-overlay]').count()).toBe(0);
    await waitFor(`${modelName} === 'dropped model'`, 180_000);
    expect(await browser.page.locator('[data-testid=status] .status-text').textContent()).toBe('dropped model: 4 layers × 1024 neurons · in browser');
  });

  it.skipIf(!needSharedFixtures('the dropped llama2.c folder', join(stories260K, 'stories260K.bin'), join(stories260K, 'tok512.bin')))('runs a picked llama2.c folder (stories260K: checkpoint + tok512.bin)', async () => {
    await browser.page.setInputFiles('[data-testid=model-folder-input]', stories260K.replace(/\/$/, ''));
    await waitFor(`${modelName} === 'stories260K'`, 180_000);
    expect(await state<string>('window.__circuits.store.getState().model.architecture')).toBe('llama2.c');
    await browser.page.fill('[data-testid=prompt-input]', 'Once upon a time');
    await browser.page.click('[data-testid=run-button]');
    await waitFor(`(() => { const s = window.__circuits.store.getState(); return s.runStatus === 'idle' && s.tokens.length > 0 && s.framesReady === s.tokens.length && s.predictions.length > 0; })()`, 120_000);
    expect(await state<string | null>('window.__circuits.store.getState().error')).toBeNull();
  });

  it('says how to switch on a page whose model runs on the server', async () => {
    await browser.page.goto(`${server.url}&engine=server`);
    await waitFor(`${modelName} === 'brown-gpt2' && window.__circuits.store.getState().connection === 'connected'`);
    expect(await browser.page.locator('[data-testid=open-model]').count()).toBe(0);
    await state(`(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(['{}'], 'config.json'));
      window.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    })()`);
    await waitFor(`(${refusal}).length > 0`);
    expect(await state<string>(refusal)).toBe('This page runs the model on the server: switch Inference to this browser (?engine=browser) to run a dropped model.');
  });
});
