/**
 * One question, one state, in headless Chromium against the real server with the bundled model:
 * the first visit opens on an example whose answers are single tokens (no warning); Run is
 * disabled on an empty prompt with a hint, a live token counter says when the prompt is too
 * long; a request the server rejects keeps the previous scene and shows the error in words beside
 * the prompt; a new run clears the previous question's Δ and token effects; generation is paced
 * (≥ 150 ms per token on "slow"), generated tokens are marked, the Next-token panel shows the
 * distribution after the last token (checked against a separate run of the whole text), the stop
 * reason is shown and Stop stops; byte tokens read as characters; the view survives a reload
 * through the URL; Enter VR is disabled with a reason where there is no WebXR.
 * Screenshots go to test-artifacts/e2e/ux-flow-*.png.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { presets } from '../../shared/presets.js';
import { launchBrowser, type BrowserSession } from './browser.js';
import { createPageHelpers } from './page.js';
import { startServer, type RunningServer } from './server.js';

const artifacts = resolve('test-artifacts/e2e');
let server: RunningServer;
let browser: BrowserSession;

const app = 'window.__circuits.store.getState()';
const analysis = 'window.__circuitsAnalysis.store.getState()';

const { state, waitFor, shoot } = createPageHelpers({
  browser: () => browser, server: () => server, artifacts,
  snapshot: `(() => { const s = window.__circuits?.store.getState(); const a = window.__circuitsAnalysis?.store.getState(); return s && { connection: s.connection, runStatus: s.runStatus, tokens: s.tokens.length, framesReady: s.framesReady, error: s.error, stop: s.stopReason, effects: a && a.effectsStatus, aerror: a && a.error }; })()`,
});

const idle = `(() => { const s = ${app}; return s.runStatus === 'idle' && s.tokens.length > 0 && s.framesReady === s.tokens.length; })()`;

async function loaded(): Promise<void> {
  await waitFor(`window.__circuits?.store.getState().model != null && window.__circuits.store.getState().connection === 'connected' && window.__circuitsAnalysis != null`, 120_000);
  await waitFor(idle, 60_000);
}

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  browser = await launchBrowser({ width: 1280, height: 800 });
  browser.page.setDefaultTimeout(60_000);
  await browser.page.addInitScript(`window.__uncaught = []; window.addEventListener('error', (e) => window.__uncaught.push(String(e.message)));`);
  await build({ configFile: resolve('vite.config.ts'), logLevel: 'warn' });
  server = await startServer();
});

afterEach(async () => {
  expect(await state<string[]>('window.__uncaught ?? []')).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('one question, one state', () => {
  it('opens on an example whose target and distractor are single tokens', async () => {
    await browser.page.goto(server.url);
    await loaded();
    const preset = await browser.page.inputValue('[data-testid=preset-select]');
    expect(presets.map((p) => p.id)).toContain(preset);
    await waitFor(`${analysis}.targetSplit != null && ${analysis}.distractorSplit != null`, 20_000);
    expect(await browser.page.getAttribute('[data-testid=target-split]', 'data-count')).toBe('1');
    expect(await browser.page.getAttribute('[data-testid=distractor-split]', 'data-count')).toBe('1');
    expect(await browser.page.locator('[data-testid=target-split-warning], [data-testid=distractor-split-warning], [data-testid=analysis-warning]').count()).toBe(0);
    // The rail shows the example's prompt: one prompt for Run and Explain.
    const prompt = await browser.page.inputValue('[data-testid=prompt-input]');
    expect(prompt).toBe(presets.find((p) => p.id === preset)!.prompt);
  });

  it('guards the prompt: empty → Run disabled with a hint; a live count against the context length', async () => {
    await browser.page.fill('[data-testid=prompt-input]', '');
    expect(await browser.page.isDisabled('[data-testid=run-button]')).toBe(true);
    expect(await browser.page.textContent('[data-testid=token-counter]')).toMatch(/Type a prompt/);
    await browser.page.fill('[data-testid=prompt-input]', ' river seven gold');
    await expect.poll(() => browser.page.getAttribute('[data-testid=token-counter]', 'data-count')).toBe('3');
    expect(await browser.page.textContent('[data-testid=token-counter]')).toMatch(/3 \/ 128 tokens/);
    expect(await browser.page.isDisabled('[data-testid=run-button]')).toBe(false);
    await browser.page.fill('[data-testid=prompt-input]', ' river'.repeat(140));
    await expect.poll(() => browser.page.getAttribute('[data-testid=token-counter]', 'data-count')).toBe('140');
    expect(await browser.page.textContent('[data-testid=token-counter]')).toMatch(/too long/);
    expect(await browser.page.isDisabled('[data-testid=run-button]')).toBe(true);
    await shoot('ux-flow-01-too-long');
  });

  it('keeps the previous scene when the server rejects a request, and says why in words beside the prompt', async () => {
    const before = await state<number[]>(`${app}.tokens.map((t) => t.id)`);
    await state(`window.__circuits.connection.runPrompt('x'.repeat(9000))`);
    await browser.page.locator('[data-testid=run-error]').waitFor();
    const message = await browser.page.textContent('[data-testid=run-error]');
    // The page stops it before sending (shared/limits.ts) with the same words the server would use.
    expect(message).toMatch(/prompt is 9,?000 characters.*at most 8,?000/);
    expect(message).not.toMatch(/bad_request|run:prompt/);
    expect(await state<number[]>(`${app}.tokens.map((t) => t.id)`)).toEqual(before);
    expect(await state<number>(`${app}.framesReady`)).toBe(before.length);
    // The clouds still hold the previous run's activations.
    expect(await state<number>(`(() => { const c = window.__circuits; let n = 0; for (let i = 0; i < 1024; i++) if (c.activations.neuron(${before.length - 1}, 0, i) !== 0) n++; return n; })()`)).toBeGreaterThan(100);
    // The error sits inside the question panel, next to the prompt.
    const inside = await state<boolean>(`document.querySelector('[data-testid=question-panel]').contains(document.querySelector('[data-testid=run-error]'))`);
    expect(inside).toBe(true);
  });

  it('clears the previous question\'s answers when a new run shows other tokens', async () => {
    const phrase = presets.find((p) => p.id === 'phrase')!;
    await browser.page.selectOption('[data-testid=preset-select]', phrase.id);
    await browser.page.click('[data-testid=explain-button]');
    await waitFor(`${analysis}.effectsStatus === 'done'`, 120_000);
    await browser.page.locator('[data-testid=logit-diff]').waitFor();
    expect(Number(await browser.page.getAttribute('[data-testid=logit-diff]', 'data-value'))).toBeGreaterThan(0);
    await browser.page.locator('[data-testid=token-effects]').waitFor();
    // Run the same prompt again: the answers still apply and stay.
    await browser.page.click('[data-testid=run-button]');
    await waitFor(idle, 60_000);
    expect(await browser.page.locator('[data-testid=logit-diff]').count()).toBe(1);
    // Another prompt: Δ and the token effects go.
    await browser.page.fill('[data-testid=prompt-input]', 'He said that he would come back');
    await browser.page.click('[data-testid=run-button]');
    await waitFor(`${idle} && ${app}.tokens.length === 7`, 60_000);
    await expect.poll(() => browser.page.locator('[data-testid=logit-diff], [data-testid=token-effects]').count()).toBe(0);
    expect(await state<unknown>(`${analysis}.effects`)).toBeNull();
  });

  it('paces generation, marks generated tokens, shows the distribution after the last one and the stop reason', async () => {
    await browser.page.selectOption('[data-testid=preset-select]', 'come-back');
    await browser.page.selectOption('[data-testid=pacing]', '150');
    await browser.page.fill('input[aria-label="tokens to generate"]', '5');
    await state(`(() => { window.__arrivals = []; let n = 0; window.__circuits.store.subscribe((s) => { if (s.tokens.length !== n) { n = s.tokens.length; window.__arrivals.push(performance.now()); } }); })()`);
    await browser.page.click('[data-testid=generate-button]');
    await waitFor(`${app}.runStatus === 'idle' && ${app}.stopReason != null`, 60_000);
    const stop = await browser.page.getAttribute('[data-testid=stop-reason]', 'data-reason');
    expect(['length', 'eos']).toContain(stop);
    const promptLength = await state<number>(`${app}.promptLength`);
    const tokens = await state<{ id: number; text: string }[]>(`${app}.tokens`);
    const generated = tokens.length - promptLength;
    expect(generated).toBeGreaterThan(0);
    expect(await browser.page.locator('[data-testid=token-scrubber] [data-generated]').count()).toBe(generated);
    // Paced: generated tokens arrive at least 150 ms apart (the arrivals after the prompt's).
    const arrivals = await state<number[]>('window.__arrivals');
    const paced = arrivals.slice(-generated);
    for (let i = 1; i < paced.length; i++) expect(paced[i]! - paced[i - 1]!).toBeGreaterThanOrEqual(140);
    // The panel names the last token and shows what follows it: the same as a fresh run of the whole text.
    expect(await browser.page.textContent('[data-testid=predictions-after]')).toContain(tokens[tokens.length - 1]!.text.trim());
    const shown = await state<{ id: number; prob: number }[]>(`${app}.predictions`);
    const fresh = await state<{ ok: boolean; value: { tokens: { id: number }[]; predictions: { id: number; prob: number }[] } }>(
      `window.__circuits.connection.backend.emitWithAck('run:prompt', { prompt: ${JSON.stringify(tokens.map((t) => t.text).join(''))}, topK: 10 })`,
    );
    expect(fresh.ok).toBe(true);
    expect(fresh.value.tokens.map((t) => t.id)).toEqual(tokens.map((t) => t.id));
    expect(shown[0]!.id).toBe(fresh.value.predictions[0]!.id);
    expect(Math.abs(shown[0]!.prob - fresh.value.predictions[0]!.prob)).toBeLessThan(1e-3);
    await shoot('ux-flow-02-generated');
  });

  it('stops a generation with Stop', async () => {
    await browser.page.selectOption('[data-testid=pacing]', '600');
    await browser.page.fill('input[aria-label="tokens to generate"]', '100');
    await browser.page.click('[data-testid=generate-button]');
    await waitFor(`${app}.runStatus === 'generating' && ${app}.tokens.length >= ${app}.promptLength + 2`, 60_000);
    await browser.page.click('[data-testid=cancel-button]');
    await waitFor(`${app}.runStatus === 'idle'`, 5_000);
    const count = await state<number>(`${app}.tokens.length`);
    await browser.page.waitForTimeout(1500);
    expect(await state<number>(`${app}.tokens.length`)).toBe(count);
    expect(await browser.page.locator('[data-testid=stop-reason]').count()).toBe(1);
    await browser.page.selectOption('[data-testid=pacing]', '0');
  });

  it('shows byte tokens as the characters they form', async () => {
    await browser.page.fill('[data-testid=prompt-input]', 'Tokyo is 東京');
    await browser.page.click('[data-testid=run-button]');
    await waitFor(idle, 60_000);
    const texts = await browser.page.locator('[data-testid=token-scrubber] .tokens button').allTextContents();
    expect(texts.join('')).not.toContain('<0x');
    expect(texts.join('')).toContain('東');
    const titles = await browser.page.locator('[data-testid=token-scrubber] .tokens button.partial').evaluateAll((all) => all.map((b) => b.getAttribute('title')));
    expect(titles.length).toBeGreaterThan(0);
    expect(titles.every((t) => /bytes [0-9A-F]{2}/.test(t ?? ''))).toBe(true);
  });

  it('restores the question, the answers, the position and the neuron from the link after a reload', async () => {
    const induction = presets.find((p) => p.id === 'induction')!;
    await browser.page.selectOption('[data-testid=preset-select]', induction.id);
    await browser.page.click('[data-testid=explain-button]');
    await waitFor(`${analysis}.effectsStatus === 'done'`, 120_000);
    await state(`window.__circuits.store.setState({ selection: { layer: 1, neuron: 77 }, position: 5, followLive: false })`);
    await browser.page.click('[data-testid=tab-neurons]');
    // The address bar follows (debounced): wait for the last change to land.
    await waitFor(`location.search.includes('do=explain') && location.search.includes('tab=neurons') && location.search.includes('n=1.77')`, 10_000);
    const link = await state<string>('location.href');
    // Copy link puts the same address on the clipboard.
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(server.url).origin });
    await browser.page.click('[data-testid=copy-link]');
    await expect.poll(() => browser.page.textContent('[data-testid=copy-link]')).toBe('Link copied');
    expect(await state<string>('navigator.clipboard.readText()')).toBe(link);
    const params = new URL(link).searchParams;
    expect(params.get('p')).toBe(induction.prompt);
    expect(params.get('n')).toBe('1.77');
    expect(params.get('tab')).toBe('neurons');
    await browser.page.reload();
    await loaded();
    await waitFor(`${analysis}.effectsStatus === 'done'`, 120_000);
    await waitFor(`(() => { const s = ${app}; return s.selection && s.selection.layer === 1 && s.selection.neuron === 77 && s.position === 5; })()`, 10_000);
    expect(await browser.page.inputValue('[data-testid=prompt-input]')).toBe(induction.prompt);
    expect(await state<string>(`${analysis}.target`)).toBe(induction.target);
    // The link's tab comes back after the switch to Explain's results, which a slow page renders late.
    await expect.poll(() => browser.page.getAttribute('[data-testid=tab-neurons]', 'aria-selected'), { timeout: 10_000 }).toBe('true');
    await shoot('ux-flow-03-restored-from-link');
  });

  it('disables Enter VR with a reason where the browser has no WebXR', async () => {
    // 127.0.0.1 (not "localhost") gets no emulated headset, and Chromium's own WebXR is off.
    await browser.page.goto(server.url.replace('localhost', '127.0.0.1'));
    await waitFor(`window.__circuits?.store.getState().model != null`, 120_000);
    await browser.page.locator('[data-testid=vr-reason]').waitFor();
    expect(await browser.page.isDisabled('[data-testid=enter-vr]')).toBe(true);
    expect(await browser.page.textContent('[data-testid=vr-reason]')).toMatch(/WebXR|headset/);
  });
});
