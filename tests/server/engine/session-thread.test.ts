/**
 * Sessions in worker threads (server/engine/session-thread.ts): the same numbers as a session on
 * the calling thread, errors in ONNX Runtime's words with the session still serving, and the
 * event loop free while the worker computes.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../shared/engine/onnx/graph-builder.js';
import { DataType } from '../../../shared/engine/onnx/proto.js';
import { seededRandom } from '../../../shared/engine/generate.js';
import { createSession } from '../../../server/engine/session.js';

/** y = tanh(x W)^(chain) and s = Σ x over columns: two outputs of different shapes. */
function chainGraph(d: number, chain: number): GraphBuilder {
  const random = seededRandom(3);
  const g = new GraphBuilder(17);
  const x = g.input('x', DataType.FLOAT, ['N', d]);
  const W = g.weight('W', { shape: [d, d], data: Float32Array.from({ length: d * d }, () => (random() - 0.5) / Math.sqrt(d)) });
  let y = x;
  for (let i = 0; i < chain; i++) y = g.op('Tanh', [g.op('MatMul', [y, W])]);
  g.output(y, 'y', ['N', d]);
  g.output(g.op('ReduceSum', [x, g.int64s([1])]), 's', ['N', 1]);
  return g;
}

describe('ONNX Runtime sessions in worker threads', () => {
  it('give bit-identical outputs to a session on the calling thread, for views into larger buffers and fetched subsets', async () => {
    const d = 24;
    const threaded = (await createSession(chainGraph(d, 3))).session;
    const local = (await createSession(chainGraph(d, 3), { inThread: false })).session;
    try {
      expect(threaded.inputNames).toEqual(['x']);
      expect([...threaded.outputNames].sort()).toEqual(['s', 'y']);
      const random = seededRandom(9);
      const big = Float32Array.from({ length: 10 * d }, () => random() * 2 - 1);
      const view = big.subarray(3 * d, 8 * d); // 5 rows in the middle of a bigger buffer
      const feeds = () => ({ x: new ort.Tensor('float32', view, [5, d]) });
      const a = await threaded.run(feeds());
      const b = await local.run(feeds());
      expect(a.y!.dims).toEqual([5, d]);
      expect(Array.from(a.y!.data as Float32Array)).toEqual(Array.from(b.y!.data as Float32Array));
      expect(Array.from(a.s!.data as Float32Array)).toEqual(Array.from(b.s!.data as Float32Array));
      // The caller's buffer is untouched (copied, not moved to the worker).
      expect(big.buffer.byteLength).toBe(10 * d * 4);
      expect(view[0]).toBe(big[3 * d]);
      const only = await threaded.run(feeds(), ['s']);
      expect(Object.keys(only)).toEqual(['s']);
    } finally {
      await threaded.release();
      await local.release();
    }
  });

  it('sends a feed marked as reused once: later calls use the worker\'s copy', async () => {
    const d = 8;
    const { session } = await createSession(chainGraph(d, 1));
    try {
      const x = new Float32Array(2 * d).fill(1);
      const feeds = () => ({ x: new ort.Tensor('float32', x, [2, d]) });
      const first = Array.from((await session.run(feeds(), ['s'], { reuse: ['x'] })).s!.data as Float32Array);
      expect(first).toEqual([8, 8]);
      // Changed in place after the first call (which the contract forbids): a reused feed is not
      // sent again, so the worker still computes with the first values; a plain feed is sent.
      x.fill(2);
      expect(Array.from((await session.run(feeds(), ['s'], { reuse: ['x'] })).s!.data as Float32Array)).toEqual([8, 8]);
      expect(Array.from((await session.run(feeds(), ['s'])).s!.data as Float32Array)).toEqual([16, 16]);
      // Another array under the same name is sent (and kept) anew.
      const y = new Float32Array(2 * d).fill(3);
      expect(Array.from((await session.run({ x: new ort.Tensor('float32', y, [2, d]) }, ['s'], { reuse: ['x'] })).s!.data as Float32Array)).toEqual([24, 24]);
    } finally {
      await session.release();
    }
  });

  it('rejects a bad call with ONNX Runtime\'s message and keeps serving the next ones', async () => {
    const { session } = await createSession(chainGraph(8, 1));
    try {
      const bad = session.run({ x: new ort.Tensor('float32', new Float32Array(3 * 5), [3, 5]) });
      await expect(bad).rejects.toThrow(/dimension|shape|Got invalid/i);
      const good = await session.run({ x: new ort.Tensor('float32', new Float32Array(2 * 8).fill(1), [2, 8]) });
      expect(Array.from(good.s!.data as Float32Array)).toEqual([8, 8]);
    } finally {
      await session.release();
    }
    await expect(session.run({ x: new ort.Tensor('float32', new Float32Array(8), [1, 8]) })).rejects.toThrow(/released/);
  });

  it('leaves the event loop free while the worker computes (timers keep firing during a long call)', async () => {
    const d = 512;
    const { session } = await createSession(chainGraph(d, 40), { threads: 1 });
    try {
      const x = new ort.Tensor('float32', new Float32Array(256 * d).fill(0.01), [256, d]);
      let ticks = 0;
      let inFlight = false;
      const timer = setInterval(() => { if (inFlight) ticks++; }, 5);
      const started = performance.now();
      inFlight = true;
      await session.run({ x });
      inFlight = false;
      const took = performance.now() - started;
      clearInterval(timer);
      // 40 × 256 × 512 × 512 × 2 ≈ 5.4 GFLOP on one thread: far longer than a few 5 ms ticks.
      expect(took, 'the call is long enough for the check to mean something').toBeGreaterThan(50);
      expect(ticks, `timers fired ${ticks} times during a ${took.toFixed(0)} ms call`).toBeGreaterThanOrEqual(3);
    } finally {
      await session.release();
    }
  });
});
