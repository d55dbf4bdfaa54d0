/**
 * An ONNX Runtime session that runs in its own worker thread.
 *
 * onnxruntime-node's `session.run` returns a promise but computes on the calling thread: a 2 s
 * backward pass on GPT-2-small shapes froze the event loop for 2 s, so every other client (even
 * `model:info`) waited. Each session made by the engine's factory (session.ts) therefore lives
 * in a worker thread; the event loop only copies feeds in and receives outputs (transferred, not
 * copied), and stays free to serve sockets while the model computes.
 *
 * The worker is plain JavaScript (it needs nothing but onnxruntime-node), so it starts the same
 * under tsx, vitest and plain Node. It keeps the process alive only while a call is pending.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { EngineSession } from '../../shared/engine/session.js';

/** What the engine needs of a session: the part of ort.InferenceSession it uses. */
export type { EngineSession } from '../../shared/engine/session.js';

type TensorData = Float32Array | BigInt64Array | Int32Array | Uint8Array | Float64Array | Int8Array | Uint16Array | Int16Array | Uint32Array | BigUint64Array;
interface WireTensor { type: ort.Tensor.Type; dims: readonly number[]; data?: TensorData; keep?: number; ref?: number }
type FromWorker =
  | { kind: 'ready'; inputNames: string[]; outputNames: string[] }
  | { kind: 'failed'; message: string }
  | { kind: 'result'; id: number; outputs: Record<string, WireTensor> }
  | { kind: 'error'; id: number; message: string };

const ortEntry = pathToFileURL(createRequire(import.meta.url).resolve('onnxruntime-node')).href;

// Run with eval: it needs only onnxruntime-node, resolved by the parent. Dynamic imports only, so
// it is valid both as a CommonJS script and as an ES module (an eval'd worker is either,
// depending on the process's --input-type).
const workerSource = `
Promise.all([import('node:worker_threads'), import(require_ort_entry)]).then(async ([{ parentPort, workerData }, ortModule]) => {
  const ort = ortModule.InferenceSession ? ortModule : ortModule.default;
  // Feeds the caller marked as reused (see ThreadSession.run) stay here by id until dropped.
  const kept = new Map();
  const toOrt = (w) => {
    if (w.ref !== undefined) {
      const data = kept.get(w.ref);
      if (!data) throw new Error('a reused feed is no longer held by the worker (id ' + w.ref + ')');
      return new ort.Tensor(w.type, data, w.dims);
    }
    return new ort.Tensor(w.type, w.data, w.dims);
  };
  let session;
  try {
    session = await ort.InferenceSession.create(workerData.model, workerData.options);
  } catch (error) {
    parentPort.postMessage({ kind: 'failed', message: String(error && error.message || error) });
    return;
  }
  parentPort.postMessage({ kind: 'ready', inputNames: [...session.inputNames], outputNames: [...session.outputNames] });
  parentPort.on('message', async (m) => {
    if (m.kind === 'drop') {
      kept.delete(m.id);
      return;
    }
    if (m.kind === 'release') {
      await session.release();
      parentPort.close();
      return;
    }
    try {
      for (const w of Object.values(m.feeds)) if (w.keep !== undefined) kept.set(w.keep, w.data);
      const feeds = {};
      for (const [name, w] of Object.entries(m.feeds)) feeds[name] = toOrt(w);
      const out = m.fetch ? await session.run(feeds, m.fetch) : await session.run(feeds);
      const outputs = {};
      const transfer = new Set();
      for (const [name, t] of Object.entries(out)) {
        outputs[name] = { type: t.type, dims: t.dims, data: t.data };
        transfer.add(t.data.buffer);
      }
      try {
        parentPort.postMessage({ kind: 'result', id: m.id, outputs }, [...transfer]);
      } catch {
        parentPort.postMessage({ kind: 'result', id: m.id, outputs }); // a buffer that cannot move is copied
      }
    } catch (error) {
      parentPort.postMessage({ kind: 'error', id: m.id, message: String(error && error.message || error) });
    }
  });
});
`.replace('require_ort_entry', JSON.stringify(ortEntry));

/** A feed as sent to the worker: a view into a larger buffer is copied (posting a view would
 * clone its whole buffer). */
function toWire(tensor: ort.Tensor): WireTensor & { data: TensorData } {
  let data = tensor.data as TensorData;
  if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) data = data.slice() as TensorData;
  return { type: tensor.type, dims: tensor.dims, data };
}

export class ThreadSession implements EngineSession {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (o: Record<string, ort.Tensor>) => void; reject: (e: Error) => void }>();
  private dead: Error | null = null;
  /** Reused feed arrays already held by the worker, by id; when one is garbage-collected here,
   * the worker drops its copy. */
  private readonly held = new WeakMap<object, number>();
  private nextHeld = 1;
  private readonly dropHeld = new FinalizationRegistry<number>((id) => {
    if (!this.dead) this.worker.postMessage({ kind: 'drop', id });
  });

  private constructor(
    private readonly worker: Worker,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {
    worker.on('message', (m: FromWorker) => {
      if (m.kind !== 'result' && m.kind !== 'error') return;
      const call = this.pending.get(m.id);
      if (!call) return;
      this.settle(m.id);
      if (m.kind === 'error') call.reject(new Error(m.message));
      else {
        const outputs: Record<string, ort.Tensor> = {};
        for (const [name, w] of Object.entries(m.outputs)) outputs[name] = new ort.Tensor(w.type, w.data as Float32Array, w.dims);
        call.resolve(outputs);
      }
    });
    const fail = (error: Error) => {
      this.dead ??= error;
      for (const [id, call] of [...this.pending]) {
        this.settle(id);
        call.reject(error);
      }
    };
    worker.on('error', (error) => fail(new Error(`the ONNX Runtime worker thread failed: ${error.message}`)));
    worker.on('exit', (code) => fail(new Error(`the ONNX Runtime worker thread exited (code ${code})`)));
  }

  /** Starts a worker and creates the session there from the model's bytes (transferred) or its
   * file path. */
  static async create(model: Uint8Array | string, options: ort.InferenceSession.SessionOptions): Promise<ThreadSession> {
    const transfer: ArrayBuffer[] = [];
    if (typeof model !== 'string') {
      if (model.byteOffset !== 0 || model.byteLength !== model.buffer.byteLength) model = model.slice();
      transfer.push(model.buffer as ArrayBuffer);
    }
    const worker = new Worker(workerSource, {
      eval: true,
      workerData: { model, options },
      transferList: transfer,
    });
    let onMessage!: (m: FromWorker) => void;
    let onError!: (e: Error) => void;
    let onExit!: (code: number) => void;
    const ready = await new Promise<FromWorker>((resolve, reject) => {
      onMessage = resolve;
      onError = reject;
      onExit = (code) => reject(new Error(`the ONNX Runtime worker thread exited while loading (code ${code})`));
      worker.once('message', onMessage).once('error', onError).once('exit', onExit);
    }).finally(() => {
      // Only ours: removeAllListeners() would also drop the Worker's own (its port stops delivering).
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    });
    if (ready.kind !== 'ready') {
      await worker.terminate();
      throw new Error(ready.kind === 'failed' ? ready.message : 'the ONNX Runtime worker thread sent no session');
    }
    worker.unref();
    return new ThreadSession(worker, ready.inputNames, ready.outputNames);
  }

  run(feeds: Record<string, ort.Tensor>, fetch?: readonly string[], options: { reuse?: readonly string[] } = {}): Promise<Record<string, ort.Tensor>> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    const wire: Record<string, WireTensor> = {};
    const reuse = new Set(options.reuse ?? []);
    for (const [name, tensor] of Object.entries(feeds)) {
      if (!reuse.has(name)) {
        wire[name] = toWire(tensor);
        continue;
      }
      const data = tensor.data as TensorData;
      const heldId = this.held.get(data);
      if (heldId !== undefined) {
        wire[name] = { type: tensor.type, dims: tensor.dims, ref: heldId };
      } else {
        const keep = this.nextHeld++;
        this.held.set(data, keep);
        this.dropHeld.register(data, keep);
        wire[name] = { ...toWire(tensor), keep };
      }
    }
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref(); // a pending call keeps the process alive
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ kind: 'run', id, feeds: wire, fetch: fetch ? [...fetch] : undefined });
    });
  }

  private settle(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
  }

  async release(): Promise<void> {
    if (this.dead) return;
    this.dead = new Error('the session was released');
    this.worker.postMessage({ kind: 'release' });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => void this.worker.terminate().then(() => resolve()), 5000);
      this.worker.once('exit', () => { clearTimeout(timer); resolve(); });
    });
  }
}
