/**
 * The in-browser engine answers as the server does (headless Chromium, the real server, no mocks).
 * One page served by the server talks to both: its own socket.io connection (the server, ONNX
 * Runtime for Node) and an engine Web Worker it makes (onnxruntime-web on WASM), and asks each
 * the same questions through the protocol (tests/e2e/engine-driver.ts):
 * - Run on several prompts: the same tokens; the top-50 predictions (the protocol's most) with
 *   logits and probabilities ≤ 1e-4 apart, and so the softmax normaliser, a sum over the whole
 *   vocabulary; every position's frame (every layer's MLP neurons and attention rows) equal as
 *   the frame codec carries them (parity-compare.ts).
 * - Generate at temperature 0: the same tokens, predictions and frames at every step.
 * - Explain (analysis:effects): Δ ≤ 1e-4 relative; the top direct and total effects the same
 *   components in the same order, values ≤ 1e-4; every neuron's direct and total effect ≤ 1e-4;
 *   the token effects likewise.
 * - Trace (analysis:graph): the same graph, node for node, link weights ≤ 1e-4.
 * On the bundled model, and on stories260K (a llama2.c checkpoint, ../shared/fixtures: a second
 * server with it as --model, and the same two files handed to a worker) when ../shared is there
 * (under CI its absence fails). Then runs and a short generation with the worker on WebGPU
 * (SwiftShader, software) against the server.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, webgpuSoftwareFlags, type BrowserSession } from './browser.js';
import { installDriver, type EngineDriver } from './engine-driver.js';
import { compareEffects, compareFrameLists, compareGraphs, comparePredictions, Differences, sameTokens } from './parity-compare.js';
import { startServer, type RunningServer } from './server.js';
import { needSharedFixtures, stories260K } from '../helpers/shared-fixtures.js';

/** Logits, probabilities, effects: absolute (Δ: relative). */
const TOLERANCE = 1e-4;

interface Setup {
  server: RunningServer;
  browser: BrowserSession;
  driver: EngineDriver;
}

interface Plan {
  prompts: string[];
  generate: { prompt: string; maxTokens: number };
  /** Explain and Trace (left out on software WebGPU, where a backward pass takes minutes). */
  questions?: { prompt: string; target: string; distractor: string }[];
  trace?: { prompt: string; target: string; distractor: string; maxNodes: number };
}

/** The worker's device: `?device=` of the page, and how model:info names it. */
type Device = { query: 'wasm' | 'webgpu'; runtime: RegExp; label: string; flags?: string[] };
const wasm: Device = { query: 'wasm', runtime: /^in this browser: WASM/, label: 'WASM' };

beforeAll(async () => {
  await build({ configFile: resolve('vite.config.ts'), logLevel: 'warn' });
});

/** A server (with `modelDir`), a page on it, and a worker engine on the bundled model or on `files`. */
async function open(modelDir?: string, files?: { name: string; files: Record<string, Buffer> }, device: Device = wasm): Promise<Setup> {
  const server = await startServer({ modelDir });
  const browser = await launchBrowser({ width: 1024, height: 700 }, device.flags);
  browser.page.setDefaultTimeout(240_000);
  // The server's page (the default Inference setting); ?device= for the worker it makes.
  await browser.page.goto(`${server.url}&engine=server&device=${device.query}`);
  await browser.page.waitForFunction(`window.__circuits?.store.getState().connection === 'connected'`, null, { timeout: 60_000 });
  const driver = await installDriver(browser.page);
  await driver.usePage('server');
  await driver.createWorker('browser', files);
  await driver.connected('browser');
  return { server, browser, driver };
}

async function close(setup: Setup | undefined): Promise<void> {
  await setup?.browser.close();
  await setup?.server.stop();
}

/** The parity checks on one model; `setup` is made by the describe's beforeAll. */
function parityChecks(model: string, setup: () => Setup, plan: Plan, tolerance = TOLERANCE, device: Device = wasm): void {
  const d = new Differences();
  afterAll(() => console.log(`${model}: largest differences, server vs in-browser engine (${device.label}), tolerance ${tolerance}\n  ${d.lines().join('\n  ')}`));

  it('describes the same model', async () => {
    const { driver } = setup();
    const [server, browser] = [await driver.info('server'), await driver.info('browser')];
    const shape = ({ architecture, nLayers, neuronsPerLayer, nHeads, dModel, vocabSize, contextLength, neuronHook }: typeof server) =>
      ({ architecture, nLayers, neuronsPerLayer, nHeads, dModel, vocabSize, contextLength, neuronHook });
    expect(shape(browser)).toEqual(shape(server));
    expect(browser.runtime).toMatch(device.runtime);
    expect(server.runtime).toBeUndefined();
  });

  it('runs prompts to the same tokens, top-50 logits and frames', async () => {
    const { driver } = setup();
    for (const prompt of plan.prompts) {
      const server = await driver.run('server', prompt, 50);
      const browser = await driver.run('browser', prompt, 50);
      sameTokens(prompt, server.tokens, browser.tokens);
      expect(server.predictions).toHaveLength(50);
      comparePredictions(`run ${JSON.stringify(prompt)}`, server.predictions, browser.predictions, tolerance, d);
      expect(server.frames).toHaveLength(server.tokens.length);
      compareFrameLists(`run ${JSON.stringify(prompt)}`, server.frames, browser.frames, tolerance, d);
    }
  });

  it('generates the same tokens at temperature 0, with the same predictions and frames', async () => {
    const { driver } = setup();
    const { prompt, maxTokens } = plan.generate;
    const server = await driver.generate('server', prompt, maxTokens);
    const browser = await driver.generate('browser', prompt, maxTokens);
    sameTokens('generate: prompt', server.tokens, browser.tokens);
    expect(server.steps.length).toBeGreaterThan(0);
    sameTokens('generate: generated tokens', server.steps.map((s) => s.token), browser.steps.map((s) => s.token));
    expect(browser.reason).toBe(server.reason);
    compareFrameLists('generate: prompt', server.promptFrames, browser.promptFrames, tolerance, d);
    server.steps.forEach((step, i) => {
      comparePredictions(`generate step ${i}`, step.predictions, browser.steps[i]!.predictions, tolerance, d);
      comparePredictions(`generate step ${i} (next)`, step.next, browser.steps[i]!.next, tolerance, d);
    });
    compareFrameLists('generate', server.steps.map((s) => s.frame), browser.steps.map((s) => s.frame), tolerance, d);
  });

  it.skipIf(!plan.questions)('explains with the same Δ and the same top direct and total effects', async () => {
    const { driver } = setup();
    for (const question of plan.questions!) {
      const server = await driver.effects('server', question);
      const browser = await driver.effects('browser', question);
      expect(server.direct.length).toBeGreaterThan(0);
      compareEffects(`explain ${JSON.stringify(question)}`, server, browser, tolerance, d);
    }
  });

  it.skipIf(!plan.trace)('traces the same attribution graph', async () => {
    const { driver } = setup();
    const server = await driver.graph('server', plan.trace!);
    const browser = await driver.graph('browser', plan.trace!);
    expect(server.full.nodes).toBeGreaterThan(0);
    compareGraphs('trace', server, browser, tolerance, d);
  });
}

describe('in-browser engine = server, on the bundled model (brown-gpt2)', () => {
  let setup: Setup | undefined;
  beforeAll(async () => {
    setup = await open();
  });
  afterAll(() => close(setup));
  parityChecks('brown-gpt2', () => setup!, {
    prompts: [
      'The cat sat on the',
      'In the morning the president said that the',
      'She opened the door and looked at the',
      'It was a cold day in the city, and the people of the town were waiting for the news from the state capital about the new law that',
    ],
    generate: { prompt: 'The history of the United States', maxTokens: 24 },
    questions: [
      { prompt: 'The president of the United', target: ' States', distractor: ' Nations' },
      { prompt: 'She opened the door and looked at the', target: ' man', distractor: ' woman' },
    ],
    trace: { prompt: 'The president of the United', target: ' States', distractor: ' Nations', maxNodes: 60 },
  });
});

const storiesBin = join(stories260K, 'stories260K.bin');
const storiesTok = join(stories260K, 'tok512.bin');
describe.skipIf(!needSharedFixtures('the stories260K engine parity tests', storiesBin, storiesTok))('in-browser engine = server, on stories260K (llama2.c)', () => {
  let setup: Setup | undefined;
  beforeAll(async () => {
    setup = await open(storiesBin, { name: 'stories260K', files: { 'stories260K.bin': readFileSync(storiesBin), 'tok512.bin': readFileSync(storiesTok) } });
  });
  afterAll(() => close(setup));
  parityChecks('stories260K', () => setup!, {
    prompts: [
      'Once upon a time, there was a little girl named Lily.',
      'The dog ran to the park and saw a big',
      'Tom and his mom went to the store. They bought a',
    ],
    generate: { prompt: 'Once upon a time', maxTokens: 32 },
    questions: [
      { prompt: 'Lily went to the park with her', target: ' mom', distractor: ' dog' },
      { prompt: 'Once upon a time, there was a little', target: ' girl', distractor: ' boy' },
    ],
    trace: { prompt: 'Lily went to the park with her', target: ' mom', distractor: ' dog', maxNodes: 60 },
  });
});

/**
 * WebGPU through SwiftShader (software Vulkan on the CPU; Chromium's flags in browser.ts): runs
 * and a short greedy generation, at the same tolerance (its kernels sum in another order than
 * the CPU's; measured differences in docs-notes/issue-14-parity.md). Explain and Trace are left
 * out: their backward graphs take minutes on software WebGPU.
 */
const webgpu: Device = { query: 'webgpu', runtime: /^in this browser: WebGPU/, label: 'WebGPU on SwiftShader', flags: webgpuSoftwareFlags };
describe('in-browser engine on WebGPU (SwiftShader, software) = server, on the bundled model', () => {
  let setup: Setup | undefined;
  beforeAll(async () => {
    setup = await open(undefined, undefined, webgpu);
  });
  afterAll(() => close(setup));
  parityChecks('brown-gpt2', () => setup!, {
    prompts: ['The cat sat on the', 'In the morning the president said that the'],
    generate: { prompt: 'The history of the United States', maxTokens: 4 },
  }, TOLERANCE, webgpu);
});
