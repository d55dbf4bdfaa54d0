/**
 * The one place an ONNX Runtime session is made from a graph the engine compiled (the forward
 * runner, the backward graphs, the bulk logit effects): the device with its CPU fallback and one
 * clear message, the thread count, and weights written to an external-data file when the graph
 * would pass protobuf's 2 GB message limit.
 *
 * The settings a forward runner was made with are remembered per decoder, so the analysis and
 * index graphs of the same model run where its forward runner runs without every caller
 * passing them along (`sessionSettingsFor`).
 */
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Decoder } from './decoder.js';
import type { GraphBuilder } from './onnx/graph-builder.js';
import { encodeModel } from './onnx/proto.js';
import { ThreadSession, type EngineSession } from './session-thread.js';

export type { EngineSession } from './session-thread.js';

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
  /** Run the session in its own worker thread (default), so a long call never blocks the event
   * loop; false runs it on the calling thread (session-thread.ts). */
  inThread?: boolean;
  /** Use ONNX Runtime's CPU memory arena (default false). An arena keeps the most a call ever
   * took: after one 128-token Explain on GPT-2-small shapes the server stayed 273 MiB above its
   * idle level with it, 76 MiB without (and ran no slower). */
  cpuMemArena?: boolean;
}

/** protobuf's hard limit on one message (2 GiB − 1). */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;
export const DEFAULT_EXTERNAL_THRESHOLD = 1.5 * 2 ** 30;

const remembered = new WeakMap<Decoder, SessionSettings>();

/** Records the settings a decoder's forward runner ended up with (its device after any fallback). */
export function rememberSessionSettings(decoder: Decoder, settings: SessionSettings): void {
  remembered.set(decoder, settings);
}

/** The settings for another graph of this decoder: its forward runner's, else the CPU. */
export function sessionSettingsFor(decoder: Decoder): SessionSettings {
  return remembered.get(decoder) ?? {};
}

/**
 * Bytes the graph's ModelProto would take: every initializer's payload plus the graph's
 * structure (names, nodes, attributes) counted generously. Large graphs are all weights, so
 * this is within a few kilobytes of the truth, and never below it by more than that.
 */
export function protoBytesEstimate(graph: GraphBuilder): number {
  let bytes = 1024;
  for (const t of graph.initializers) {
    const payload = graph.initializerData.get(t.name)?.byteLength ?? t.raw_data?.byteLength ?? 0;
    bytes += payload + t.name.length + 16 * t.dims.length + 32;
  }
  for (const node of graph.nodes) {
    bytes += node.name.length + node.op_type.length + 32;
    for (const name of [...node.input, ...node.output]) bytes += name.length + 4;
    for (const a of node.attribute) bytes += a.name.length + 32 + 10 * (a.ints?.length ?? 0) + 4 * (a.floats?.length ?? 0);
  }
  for (const v of [...graph.inputs, ...graph.outputs]) bytes += v.name.length + 32 + 16 * v.shape.length;
  return bytes;
}

/** Whether a graph must keep its weights in an external-data file. */
export function needsExternalData(graph: GraphBuilder, thresholdBytes = DEFAULT_EXTERNAL_THRESHOLD): boolean {
  return protoBytesEstimate(graph) > Math.min(thresholdBytes, PROTOBUF_LIMIT);
}

/** Whether onnxruntime-node's CUDA provider library is installed (the npm package lists CUDA as
 * a backend but ships it only after its installer fetched it: README, "GPU"). Asking ONNX
 * Runtime without it prints a load error of its own before failing. */
function cudaLibraryPresent(): boolean {
  try {
    const bin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(join(bin, process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so'));
  } catch {
    return true; // unknown layout: let ONNX Runtime try
  }
}

/** Picks the execution provider, falling back to the CPU with one clear message. */
function executionProvider(device: Device, notice: (m: string) => void): Device {
  if (device === 'cpu') return device;
  const available = ort.listSupportedBackends?.() ?? [];
  if (!available.some((b) => b.name === device) || (device === 'cuda' && !cudaLibraryPresent())) {
    notice(device === 'cuda'
      ? 'CUDA was asked for but onnxruntime-node has no CUDA libraries here (see README, "GPU"); running on the CPU.'
      : `Device ${device} is not available in this onnxruntime-node build; running on the CPU.`);
    return 'cpu';
  }
  return device;
}

/** Writes the graph with every weight in one external-data file; returns the model path. The
 * graph's initializers then point into that file (the payloads stay in `initializerData`). */
function writeWithExternalData(graph: GraphBuilder, dir: string): string {
  const dataPath = join(dir, 'weights.bin');
  const fd = openSync(dataPath, 'w');
  let offset = 0;
  try {
    for (const init of graph.initializers) {
      const bytes = graph.initializerData.get(init.name);
      if (!bytes) continue; // small constants stay inline
      offset = Math.ceil(offset / 4096) * 4096; // page-aligned so ORT can map it
      // writeSync takes at most 2 GiB at once: a single huge weight goes in pieces.
      for (let at = 0; at < bytes.byteLength; at += 1 << 30) {
        const piece = bytes.subarray(at, Math.min(bytes.byteLength, at + (1 << 30)));
        writeSync(fd, piece, 0, piece.byteLength, offset + at);
      }
      init.raw_data = undefined;
      init.data_location = 1;
      init.external_data = [
        { key: 'location', value: 'weights.bin' },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(bytes.byteLength) },
      ];
      offset += bytes.byteLength;
    }
  } finally {
    closeSync(fd);
  }
  const modelPath = join(dir, 'model.onnx');
  writeFileSync(modelPath, encodeModel(graph.message()));
  return modelPath;
}

export interface CreatedSession {
  session: EngineSession;
  /** Where it runs: the device asked for, or 'cpu' after a fallback. */
  device: Device;
  /** Whether its weights went through an external-data file. */
  externalData: boolean;
}

/**
 * A session for `graph` with these settings. A device that is missing or fails to start falls
 * back to the CPU with one notice. The graph is encoded once per attempt and not kept.
 */
export async function createSession(graph: GraphBuilder, settings: SessionSettings = {}): Promise<CreatedSession> {
  const notice = settings.onNotice ?? ((m: string) => console.warn(m));
  const external = needsExternalData(graph, settings.externalDataThresholdBytes);
  const options = (device: Device): ort.InferenceSession.SessionOptions => ({
    executionProviders: [device] as ort.InferenceSession.SessionOptions['executionProviders'],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    ...(settings.threads ? { intraOpNumThreads: settings.threads, interOpNumThreads: 1 } : {}),
    enableCpuMemArena: settings.cpuMemArena ?? false,
  });
  const open = async (model: Uint8Array | string, device: Device): Promise<EngineSession> => {
    if (settings.inThread === false) {
      const session = typeof model === 'string' ? await ort.InferenceSession.create(model, options(device)) : await ort.InferenceSession.create(model, options(device));
      return inProcess(session);
    }
    return ThreadSession.create(model, options(device));
  };
  const create = async (device: Device) => {
    if (!external) return open(encodeModel(graph.message()), device);
    const dir = mkdtempSync(join(tmpdir(), 'circuits-xr-onnx-'));
    try {
      return await open(writeWithExternalData(graph, dir), device);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  let device = executionProvider(settings.device ?? 'cpu', notice);
  try {
    return { session: await create(device), device, externalData: external };
  } catch (error) {
    if (device === 'cpu') throw error;
    notice(`Device ${device} failed to start (${(error as Error).message.split('\n')[0]}); running on the CPU.`);
    device = 'cpu';
    return { session: await create(device), device, externalData: external };
  }
}

/** A session on the calling thread. */
function inProcess(session: ort.InferenceSession): EngineSession {
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    run: (feeds, fetch) => (fetch ? session.run(feeds, [...fetch]) : session.run(feeds)), // every feed is read in place
    release: () => session.release(),
  };
}
