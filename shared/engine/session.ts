/**
 * Where the engine meets an ONNX Runtime: the session interface every graph runs behind, and the
 * one runtime the platform registered (onnxruntime-node in worker threads on the server,
 * server/engine/session.ts via server/runtime.ts; onnxruntime-web in the page's engine worker,
 * client/engine-worker/web-runtime.ts). Engine code never imports a runtime package itself, so
 * the same runner, backward passes and analysis run on both sides.
 *
 * Tensors are made through the runtime too (`ortTensor`): onnxruntime-web's bundle carries its
 * own copy of onnxruntime-common, and a session only accepts its own Tensor class.
 */
import type { Tensor as OrtTensor, InferenceSession } from 'onnxruntime-common';
import type { Decoder } from './decoder.js';
import type { GraphBuilder } from './onnx/graph-builder.js';

export type { OrtTensor };

export type Device = 'cpu' | 'cuda' | 'webgpu';
export const devices: readonly Device[] = ['cpu', 'cuda', 'webgpu'];

export interface SessionSettings {
  device?: Device;
  /** Threads for one operator (ONNX Runtime's intra-op pool); default: ONNX Runtime's choice. */
  threads?: number;
  /** A graph whose estimated protobuf size passes this goes to an external-data file
   * (protobuf refuses messages of 2 GB and more; the margin covers the estimate's error). */
  externalDataThresholdBytes?: number;
  /** Called with a one-line notice, e.g. when a device falls back to the CPU. */
  onNotice?: (message: string) => void;
  /** Run the session in its own worker thread (default on the server), so a long call never
   * blocks the event loop; false runs it on the calling thread (server/engine/session-thread.ts). */
  inThread?: boolean;
  /** Use ONNX Runtime's CPU memory arena (default false). An arena keeps the most a call ever
   * took: after one 128-token Explain on GPT-2-small shapes the server stayed 273 MiB above its
   * idle level with it, 76 MiB without (and ran no slower). */
  cpuMemArena?: boolean;
}

export interface EngineSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** `reuse`: names of feeds whose arrays the caller passes again, unchanged, on later calls
   * (a forward cache fed to many backward calls): a thread session sends each such array once. */
  run(feeds: Record<string, OrtTensor>, fetch?: readonly string[], options?: { reuse?: readonly string[] }): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

export interface CreatedSession {
  session: EngineSession;
  /** Where it runs: the device asked for, or the fallback after a device failed. */
  device: Device;
  /** Whether its weights went through an external-data file. */
  externalData: boolean;
}

/** What a platform provides: sessions for compiled graphs, and tensors those sessions accept. */
export interface EngineRuntime {
  createSession(graph: GraphBuilder, settings: SessionSettings): Promise<CreatedSession>;
  tensor(type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: readonly number[]): OrtTensor;
}

let runtime: EngineRuntime | null = null;

/** Registers the platform's runtime (once per process or worker; a later call replaces it). */
export function setEngineRuntime(value: EngineRuntime): void {
  runtime = value;
}

function current(): EngineRuntime {
  if (!runtime) {
    throw new Error('no ONNX Runtime is registered: import server/runtime.js (Node) or call registerWebRuntime (the engine worker) before making a runner');
  }
  return runtime;
}

/** A session for `graph` on the registered runtime. */
export function createSession(graph: GraphBuilder, settings: SessionSettings = {}): Promise<CreatedSession> {
  return current().createSession(graph, settings);
}

/** A tensor the registered runtime's sessions accept. */
export function ortTensor(type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: readonly number[]): OrtTensor {
  return current().tensor(type, data, dims);
}

export type SessionOptions = InferenceSession.SessionOptions;

const remembered = new WeakMap<Decoder, SessionSettings>();

/** Records the settings a decoder's forward runner ended up with (its device after any fallback). */
export function rememberSessionSettings(decoder: Decoder, settings: SessionSettings): void {
  remembered.set(decoder, settings);
}

/** The settings for another graph of this decoder: its forward runner's, else the default device. */
export function sessionSettingsFor(decoder: Decoder): SessionSettings {
  return remembered.get(decoder) ?? {};
}
