/**
 * Measures what the in-browser engine holds for the bundled model in headless Chromium, to set
 * the ratios of shared/engine/memory-estimate.ts from a measurement rather than a guess:
 * the engine worker's WebAssembly memory (onnxruntime-web's heap: it only grows), its JS heap,
 * and its ArrayBuffer backing stores (the decoder's Float32Arrays, the ONNX protobuf), after the
 * model loaded, after a run of the whole context, and after an Explain (the backward graph's session).
 *
 *   npx vite build && npx tsx tools/measure-browser-memory.ts
 *
 * It starts the real server (tests/e2e/server.ts) and Chromium with a DevTools port, attaches to
 * the engine worker (CDP, flat sessions) and reads: the sizes of every WebAssembly.Memory in the
 * worker (noted by a script run in the worker before its own, while it waits for the debugger),
 * and Runtime.getHeapUsage (usedSize; backingStorageSize: ArrayBuffers, WebAssembly memory apart).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import { chromiumFlags, chromiumPath } from '../tests/e2e/browser.js';
import { startServer } from '../tests/e2e/server.js';
import { estimateFromConfig, parseSafetensorsHeader, WASM_HEAP_PER_WEIGHT_BYTE } from '../shared/engine/memory-estimate.js';

/** Runs in the engine worker before its scripts: keeps every WebAssembly.Memory it creates or gets from an instance. */
const NOTE_WASM_MEMORIES = `(() => {
  const seen = globalThis.__wasmMemories = [];
  const Memory = WebAssembly.Memory;
  WebAssembly.Memory = new Proxy(Memory, { construct(target, args) { const m = Reflect.construct(target, args); seen.push(m); return m; } });
  const note = (result) => { const instance = result.instance ?? result; for (const v of Object.values(instance.exports ?? {})) if (v instanceof Memory && !seen.includes(v)) seen.push(v); return result; };
  const instantiate = WebAssembly.instantiate, streaming = WebAssembly.instantiateStreaming;
  WebAssembly.instantiate = function (...args) { return instantiate.apply(this, args).then(note); };
  if (streaming) WebAssembly.instantiateStreaming = function (...args) { return streaming.apply(this, args).then(note); };
})()`;

type Message = { id?: number; method?: string; params?: any; result?: any; error?: { message: string }; sessionId?: string };

async function main(): Promise<void> {
  const modelDir = resolve('assets/models/brown-gpt2');
  const header = parseSafetensorsHeader(new Uint8Array(readFileSync(join(modelDir, 'model.safetensors')).buffer));
  const server = await startServer();
  const profile = mkdtempSync(join(tmpdir(), 'circuits-measure-'));
  const chrome = spawn(chromiumPath, [...chromiumFlags, '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const endpoint = await new Promise<string>((done, fail) => {
      let seen = '';
      chrome.stderr.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        const match = /DevTools listening on (ws:\/\/\S+)/.exec(seen);
        if (match) done(match[1]!);
      });
      chrome.on('exit', () => fail(new Error(`chromium exited: ${seen}`)));
    });
    const ws = new WebSocket(endpoint, { perMessageDeflate: false });
    await new Promise((done) => ws.once('open', done));
    let nextId = 1;
    const waiting = new Map<number, { done: (v: any) => void; fail: (e: Error) => void }>();
    const attached: { type: string; sessionId: string; url: string }[] = [];
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as Message;
      if (message.id !== undefined) {
        const w = waiting.get(message.id);
        waiting.delete(message.id);
        if (message.error) w?.fail(new Error(message.error.message));
        else w?.done(message.result);
      } else if (message.method === 'Target.attachedToTarget') {
        const info = message.params.targetInfo;
        const sessionId = message.params.sessionId as string;
        attached.push({ type: info.type, sessionId, url: info.url });
        // Before the worker runs: note every WebAssembly.Memory it makes or instantiates.
        const patch = info.type === 'worker' ? send('Runtime.evaluate', { expression: NOTE_WASM_MEMORIES }, sessionId) : Promise.resolve();
        void patch.catch((e) => console.log(`patch: ${e}`)).then(() => send('Runtime.runIfWaitingForDebugger', {}, sessionId)).catch(() => {});
      }
    });
    const send = (method: string, params: object = {}, sessionId?: string): Promise<any> => new Promise((done, fail) => {
      const id = nextId++;
      const timer = setTimeout(() => { waiting.delete(id); fail(new Error(`${method}: no answer in 240 s`)); }, 240_000);
      waiting.set(id, { done: (v) => { clearTimeout(timer); done(v); }, fail: (e) => { clearTimeout(timer); fail(e); } });
      ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
    const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
    const { sessionId: page } = await send('Target.attachToTarget', { targetId, flatten: true });
    await send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: true }, page);
    const evaluate = async (expression: string, sessionId = page): Promise<any> => {
      const result = await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, sessionId);
      if (result.exceptionDetails) throw new Error(`${expression}: ${JSON.stringify(result.exceptionDetails).slice(0, 400)}`);
      return result.result.value;
    };
    const until = async (expression: string, timeoutMs: number): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (await evaluate(expression).catch(() => false)) return;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`timed out: ${expression} (${JSON.stringify(await evaluate('JSON.stringify(window.__circuits?.store.getState().error ?? null)').catch(() => null))})`);
    };
    await send('Page.navigate', { url: `${server.url}&engine=browser&device=wasm` }, page);
    await until(`(window.__circuits?.store.getState().model?.runtime ?? '').startsWith('in this browser')`, 300_000);
    const worker = attached.find((t) => t.type === 'worker');
    if (!worker) throw new Error(`no worker attached (${JSON.stringify(attached)})`);

    const measure = async (label: string) => {
      await send('HeapProfiler.collectGarbage', {}, worker.sessionId).catch((e) => console.log(String(e)));
      const heap = await send('Runtime.getHeapUsage', {}, worker.sessionId);
      const sizes = await send('Runtime.evaluate', { expression: 'globalThis.__wasmMemories.map((m) => m.buffer.byteLength)', returnByValue: true }, worker.sessionId);
      const wasmBytes = (sizes.result.value as number[]).reduce((a, b) => a + b, 0);
      const row = { label, wasmBytes, jsHeapUsed: heap.usedSize as number, backingStorage: (heap.backingStorageSize ?? null) as number | null };
      console.log(JSON.stringify(row));
      return row;
    };

    // The decoder's float32 weights (the tied unembedding is its own array): what the estimate multiplies.
    const need = estimateFromConfig('brown-gpt2', readFileSync(join(modelDir, 'config.json'), 'utf8'), header.fileBytes);
    const weightsF32 = need.weightsBytes;
    console.log(JSON.stringify({ model: 'brown-gpt2', safetensorsParameters: header.parameters, fileBytes: header.fileBytes }));
    const loaded = await measure('loaded');
    // A run over the whole context (128 tokens of the bundled model).
    const prompt = Array.from({ length: 200 }, (_, i) => ['the', 'cat', 'sat', 'on', 'a', 'mat'][i % 6]).join(' ');
    await evaluate(`window.__circuits.connection.runPrompt(${JSON.stringify(prompt)}).then(() => window.__circuits.store.getState().error)`);
    const ran = await measure('after a run of the whole context');
    const effects = await evaluate(`new Promise((done) => window.__circuits.connection.backend.emit('analysis:effects', { prompt: ${JSON.stringify(prompt.split(' ').slice(0, 100).join(' '))}, target: ' the', distractor: ' a' }, (r) => done(r.ok ? 'ok' : r.error.message)))`);
    const explained = await measure(`after an Explain (${effects})`);
    const ratio = (bytes: number) => (bytes / weightsF32).toFixed(2);
    console.log(`decoder weights as float32: ${weightsF32} bytes (${need.parameters} values; ${header.parameters} in model.safetensors); the estimate uses WASM_HEAP_PER_WEIGHT_BYTE = ${WASM_HEAP_PER_WEIGHT_BYTE}`);
    for (const row of [loaded, ran, explained]) {
      const wasm = row.backingStorage === null ? null : row.backingStorage - weightsF32;
      console.log(`${row.label}: WebAssembly memory ${row.wasmBytes} = ${ratio(row.wasmBytes)} × weights`);
      console.log(`${row.label}: JS ArrayBuffers ${row.backingStorage} = ${row.backingStorage === null ? '?' : ratio(row.backingStorage)} × weights (beyond the decoder's weights: ${wasm}); JS heap ${row.jsHeapUsed}`);
    }
    ws.close();
  } finally {
    const exited = new Promise((done) => { if (chrome.exitCode !== null) done(null); else chrome.once('exit', done); });
    chrome.kill();
    await Promise.race([exited, new Promise((done) => setTimeout(done, 10_000))]);
    await server.stop();
    rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
