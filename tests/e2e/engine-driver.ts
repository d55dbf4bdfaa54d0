/**
 * Drives a page's backends through the protocol only (shared/protocol.ts), for the engine parity
 * test and the browser-engine bench: `installDriver(page)` puts `window.__engines` in the page,
 * which holds named backends (the page's own connection: the socket.io server, or a Web Worker
 * engine made with window.__circuits.createBrowserBackend) and asks each the same questions.
 * What comes back is plain JSON: frames as base64 (decode them in Node with shared/frame-codec.ts),
 * effect arrays as number arrays, and the page's own wall time of each request (performance.now()).
 *
 * The page script is a string, not a function: code compiled for Node (esbuild's helpers) must
 * not travel into the page.
 */
import type { Page } from 'playwright-core';
import type { EffectsResult, GraphResult, ModelInfo, Prediction, RunResult, TokenInfo } from '../../shared/protocol.js';

const driverScript = String.raw`(() => {
  if (window.__engines) return;
  const backends = {};
  const b64 = (buffer) => {
    const bytes = new Uint8Array(buffer);
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  };
  const unb64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0)).buffer;
  const ask = (backend, event, payload) => new Promise((resolve, reject) => {
    const ack = (response) => response && response.ok ? resolve(response.value) : reject(new Error(event + ': ' + (response && response.error ? response.error.code + ': ' + response.error.message : JSON.stringify(response))));
    if (payload === undefined) backend.emit(event, ack); else backend.emit(event, payload, ack);
  });
  const get = (name) => {
    const backend = backends[name];
    if (!backend) throw new Error('no backend named ' + name);
    return backend;
  };
  window.__engines = {
    /** The page's own connection under this name. */
    usePage(name) { backends[name] = window.__circuits.connection.backend; },
    /** A new engine worker on the bundled model, or on files given as base64. */
    createWorker(name, model) {
      const files = model ? Object.fromEntries(Object.entries(model.files).map(([n, t]) => [n, unb64(t)])) : undefined;
      backends[name] = window.__circuits.createBrowserBackend(model ? { name: model.name, files } : undefined);
    },
    async connected(name, timeoutMs) {
      const start = performance.now();
      while (!get(name).connected) {
        if (performance.now() - start > timeoutMs) throw new Error(name + ' did not connect within ' + timeoutMs + ' ms');
        await new Promise((r) => setTimeout(r, 50));
      }
      return performance.now() - start;
    },
    close(name) { get(name).close(); delete backends[name]; },
    info(name) { return ask(get(name), 'model:info'); },
    tokenize(name, text) { return ask(get(name), 'tokenize', text); },
    async run(name, prompt, topK) {
      const backend = get(name);
      const frames = [];
      const onFrame = (runId, frame) => frames.push([runId, b64(frame)]);
      backend.on('run:frame', onFrame);
      const start = performance.now();
      try {
        const value = await ask(backend, 'run:prompt', { prompt, topK });
        const ms = performance.now() - start;
        return { ...value, ms, frames: frames.filter(([id]) => id === value.runId).map(([, f]) => f) };
      } finally {
        backend.off('run:frame', onFrame);
      }
    },
    async generate(name, prompt, maxTokens) {
      const backend = get(name);
      const frames = [];
      const steps = [];
      let runId = null;
      let done;
      const finished = new Promise((resolve) => { done = resolve; });
      const start = performance.now();
      const onFrame = (id, frame) => frames.push([id, b64(frame)]);
      const onToken = (id, token, predictions, frame, next) => steps.push({ id, token, predictions, next, frame: frame ? b64(frame) : null, at: performance.now() - start });
      const onDone = (id, reason) => { if (runId === null || id === runId) done({ id, reason }); };
      backend.on('run:frame', onFrame);
      backend.on('generate:token', onToken);
      backend.on('generate:done', onDone);
      try {
        const started = await ask(backend, 'generate:start', { prompt, maxTokens, temperature: 0 });
        runId = started.runId;
        const promptMs = performance.now() - start;
        let end = await finished;
        while (end.id !== runId) end = await finished;
        const ms = performance.now() - start;
        const mine = steps.filter((s) => s.id === runId);
        return { tokens: started.tokens, promptMs, ms, reason: end.reason, promptFrames: frames.filter(([id]) => id === runId).map(([, f]) => f),
          steps: mine.map(({ id, ...rest }) => rest) };
      } finally {
        backend.off('run:frame', onFrame);
        backend.off('generate:token', onToken);
        backend.off('generate:done', onDone);
      }
    },
    async effects(name, question) {
      const start = performance.now();
      const value = await ask(get(name), 'analysis:effects', question);
      return { ...value, ms: performance.now() - start, neuronDirect: Array.from(new Float32Array(value.neuronDirect)), neuronTotal: Array.from(new Float32Array(value.neuronTotal)) };
    },
    async graph(name, request) {
      const start = performance.now();
      const value = await ask(get(name), 'analysis:graph', request);
      return { ...value, ms: performance.now() - start };
    },
  };
})()`;

export interface DriverRun extends RunResult {
  ms: number;
  /** base64 frames, one per position. */
  frames: string[];
}

export interface DriverGenerate {
  tokens: TokenInfo[];
  /** Until generate:start's ack (the prompt's frames came first). */
  promptMs: number;
  ms: number;
  reason: string;
  promptFrames: string[];
  steps: { token: TokenInfo; predictions: Prediction[]; next: Prediction[]; frame: string | null; at: number }[];
}

export type DriverEffects = Omit<EffectsResult, 'neuronDirect' | 'neuronTotal'> & { ms: number; neuronDirect: number[]; neuronTotal: number[] };
export type DriverGraph = GraphResult & { ms: number };

/** Calls into `window.__engines` of one page. */
export interface EngineDriver {
  usePage(name: string): Promise<void>;
  createWorker(name: string, model?: { name: string; files: Record<string, Buffer> }): Promise<void>;
  /** Waits until the backend is connected; resolves the ms waited. */
  connected(name: string, timeoutMs?: number): Promise<number>;
  close(name: string): Promise<void>;
  info(name: string): Promise<ModelInfo>;
  tokenize(name: string, text: string): Promise<TokenInfo[]>;
  run(name: string, prompt: string, topK?: number): Promise<DriverRun>;
  generate(name: string, prompt: string, maxTokens: number): Promise<DriverGenerate>;
  effects(name: string, question: { prompt: string; target: string; distractor: string }): Promise<DriverEffects>;
  graph(name: string, request: { prompt: string; target: string; distractor: string; maxNodes?: number }): Promise<DriverGraph>;
}

/** Installs the driver in the page (again after each navigation) and returns its calls. */
export async function installDriver(page: Page): Promise<EngineDriver> {
  await page.evaluate(driverScript);
  const call = <T>(method: string, ...args: unknown[]): Promise<T> =>
    page.evaluate(`window.__engines.${method}(...${JSON.stringify(args)})`) as Promise<T>;
  return {
    usePage: (name) => call('usePage', name),
    createWorker: (name, model) => call('createWorker', name, model
      ? { name: model.name, files: Object.fromEntries(Object.entries(model.files).map(([file, bytes]) => [file, bytes.toString('base64')])) }
      : undefined),
    connected: (name, timeoutMs = 180_000) => call('connected', name, timeoutMs),
    close: (name) => call('close', name),
    info: (name) => call('info', name),
    tokenize: (name, text) => call('tokenize', name, text),
    run: (name, prompt, topK = 50) => call('run', name, prompt, topK),
    generate: (name, prompt, maxTokens) => call('generate', name, prompt, maxTokens),
    effects: (name, question) => call('effects', name, question),
    graph: (name, request) => call('graph', name, request),
  };
}
